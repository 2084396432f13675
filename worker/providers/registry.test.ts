import { beforeAll, describe, expect, it } from "vitest";
import { expandLanes } from "../../server/catalog/lanes.js";
import { loadCatalogFromDisk } from "../../server/catalog/load-catalog.js";
import type { Catalog, Lane } from "../../server/catalog/types.js";
import { adapterFor, executionModes, LIVE_ADAPTERS, liveRoutes, type LiveAdapterFactories } from "./registry.js";
import { createSimulator } from "./simulator.js";
import type { ProviderAdapter } from "./types.js";

let catalog: Catalog;
let openaiBatch: Lane;
let anthropicBatch: Lane;
beforeAll(async () => {
  catalog = await loadCatalogFromDisk();
  const lanes = expandLanes(catalog);
  openaiBatch = lanes.find((l) => l.provider === "openai" && l.protocol === "openai-batch")!;
  anthropicBatch = lanes.find((l) => l.provider === "anthropic" && l.protocol === "anthropic-batch")!;
});

const simulator = createSimulator({ turnaroundMs: 0 });
const fakeLive = { ...simulator, execution: "live" } as ProviderAdapter;
const withOpenAiBatch: LiveAdapterFactories = { "openai-batch": () => fakeLive };

describe("adapterFor", () => {
  it("gives test keys the simulator even when the provider is configured", () => {
    const env = { environment: "test" as const, credentials: { openai: { api_key: "sk-test" } } };
    expect(adapterFor(openaiBatch, env, simulator, withOpenAiBatch)).toBe(simulator);
  });

  it("never gives live keys the simulator: no credentials, or no adapter for the protocol, is a permanent error", () => {
    const notConfigured = expect.objectContaining({ code: "provider_not_configured", retryable: false });
    expect(() => adapterFor(openaiBatch, { environment: "live", credentials: {} }, simulator, withOpenAiBatch)).toThrow(notConfigured);
    const configured = { environment: "live" as const, credentials: { openai: { api_key: "sk" }, anthropic: { api_key: "sk" } } };
    expect(() => adapterFor(anthropicBatch, configured, simulator, withOpenAiBatch)).toThrow(notConfigured);
  });

  it("slots a real adapter in by protocol once credentials are configured", () => {
    const env = { environment: "live" as const, credentials: { openai: { api_key: "sk" } } };
    expect(adapterFor(openaiBatch, env, simulator, withOpenAiBatch)).toBe(fakeLive);
  });

  it("refuses a switched-off provider for live keys", () => {
    expect(() => adapterFor(openaiBatch, { environment: "live", credentials: { openai: false } }, simulator)).toThrow(
      expect.objectContaining({ code: "provider_disabled", retryable: false }),
    );
  });
});

describe("executionModes", () => {
  it("reports every catalog provider, simulated unless configured with a real adapter", () => {
    const modes = executionModes(catalog.providers, {});
    expect(Object.keys(modes).sort()).toEqual(catalog.providers.map((p) => p.slug).sort());
    expect(new Set(Object.values(modes))).toEqual(new Set(["simulated"]));
    expect(executionModes(catalog.providers, { openai: { api_key: "sk" } }).openai).toBe(
      LIVE_ADAPTERS["openai-batch"] ? "live" : "simulated",
    );
  });

  it("lists the provider/protocol pairs a live key may use", () => {
    const routes = liveRoutes(
      catalog.providers,
      { openai: { api_key: "sk" }, anthropic: { api_key: "sk" }, mistral: false },
      withOpenAiBatch,
    );
    expect(routes).toEqual(["openai/openai-batch"]);
    expect(liveRoutes(catalog.providers, {}, withOpenAiBatch)).toEqual([]);
  });

  it("says live for configured providers with an adapter, off for switched-off ones", () => {
    const modes = executionModes(
      catalog.providers,
      { openai: { api_key: "sk" }, groq: { api_key: "gsk" }, mistral: false, together: undefined },
      withOpenAiBatch,
    );
    expect(modes).toMatchObject({ openai: "live", groq: "live", mistral: "off", together: "simulated", anthropic: "simulated" });
  });
});
