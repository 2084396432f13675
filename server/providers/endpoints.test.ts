import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { KEYED_PROVIDERS, redactSecrets } from "./endpoints.js";

const custom = [
  {
    slug: "local-vllm",
    base_url: "http://127.0.0.1:8000/v1/",
    models: [
      {
        model: "llama-3.1-8b-instruct",
        served_as: "meta-llama/Llama-3.1-8B-Instruct",
        input_per_mtok: "0",
        output_per_mtok: "0",
        context_window: 8192,
      },
    ],
  },
];

describe("provider endpoints from the environment", () => {
  it("configures each keyed provider by its key, with its default or given base URL; nothing without a key", () => {
    const c = loadConfig({
      OPENAI_API_KEY: "sk-test-123456",
      ANTHROPIC_API_KEY: "sk-ant-abcdef",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9/",
      GROQ_BASE_URL: "http://127.0.0.1:9/v1",
    });
    expect(Object.keys(c.providers).sort()).toEqual(["anthropic", "openai"]);
    expect(c.providers.openai).toMatchObject({ kind: "openai", baseUrl: "https://api.openai.com/v1", apiKey: "sk-test-123456" });
    expect(c.providers.anthropic?.baseUrl).toBe("http://127.0.0.1:9");
    for (const p of KEYED_PROVIDERS) {
      const one = loadConfig({ [p.key]: "key-123456" });
      expect(Object.keys(one.providers), p.key).toEqual([p.slug]);
    }
    expect(loadConfig({ OPENAI_API_KEY: "" }).providers).toEqual({});
  });

  it("Azure needs its key and endpoint together", () => {
    expect(() => loadConfig({ AZURE_OPENAI_API_KEY: "k" })).toThrow(
      /AZURE_OPENAI_ENDPOINT: AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT go together/,
    );
    const c = loadConfig({ AZURE_OPENAI_API_KEY: "k", AZURE_OPENAI_ENDPOINT: "https://x.openai.azure.com" });
    expect(c.providers["azure-openai"]).toMatchObject({ kind: "azure-openai", apiVersion: "2024-10-21" });
  });

  it("reads custom endpoints from JSON or a file, and names the variable and the field of a mistake", () => {
    const c = loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS: JSON.stringify(custom) });
    expect(c.providers["local-vllm"]).toMatchObject({ kind: "openai-compatible", baseUrl: "http://127.0.0.1:8000/v1", maxConcurrency: 4 });
    expect(c.providers["local-vllm"]?.apiKey).toBeUndefined();
    expect(c.customEndpoints[0]?.region).toBe("global");

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "endpoints-")), "endpoints.json");
    fs.writeFileSync(file, JSON.stringify(custom));
    expect(Object.keys(loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS_FILE: file }).providers)).toEqual(["local-vllm"]);

    const bad = [{ ...custom[0], models: [{ ...custom[0]!.models[0], input_per_mtok: 0.1 }] }];
    expect(() => loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS: JSON.stringify(bad) })).toThrow(
      /BATCHROUTER_CUSTOM_ENDPOINTS\[0\]\.models\[0\]\.input_per_mtok: /,
    );
    expect(() => loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS: "[{" })).toThrow(/BATCHROUTER_CUSTOM_ENDPOINTS: not JSON/);
    expect(() => loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS: JSON.stringify([custom[0], custom[0]]) })).toThrow(
      /\[1\]\.slug: "local-vllm" is used twice/,
    );
    expect(() => loadConfig({ BATCHROUTER_CUSTOM_ENDPOINTS_FILE: "/nonexistent/x.json" })).toThrow(
      /BATCHROUTER_CUSTOM_ENDPOINTS_FILE: cannot read/,
    );
  });

  it("redacts configured keys and key-shaped strings from provider error text", () => {
    const c = loadConfig({ OPENAI_API_KEY: "secret-key-value-1" });
    expect(redactSecrets("Incorrect API key provided: secret-key-value-1.", c.providers)).toBe("Incorrect API key provided: [redacted].");
    expect(redactSecrets("bad key sk-proj-abcdefghijk here", {})).toBe("bad key [redacted] here");
  });
});
