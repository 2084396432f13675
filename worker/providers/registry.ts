import type { Lane, Protocol, Provider, ProviderMode } from "../../server/catalog/types.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { anthropicBatchAdapter } from "./anthropic-batch.js";
import { openAiBatchAdapter } from "./openai-batch.js";
import { realtimeAdapter } from "./realtime.js";
import { ProviderError, type ProviderAdapter } from "./types.js";

/**
 * Which adapter runs a lane. Test-mode keys always get the simulator; a live key gets a real adapter
 * when the operator configured the provider's credentials and an adapter for the lane's protocol
 * exists — and never the simulator: live work that can't run for real fails, it is never simulated
 * and billed (quotes already keep live keys off such lanes: `provider_not_configured`).
 */

/** Per provider slug: its credentials, `undefined` when not configured, `false` when switched off. */
export type ProviderCredentials = Readonly<Record<string, unknown>>;

export interface ExecutionEnv {
  environment: "live" | "test";
  credentials: ProviderCredentials;
}

/** Builds the real adapter of one protocol for a lane, given that provider's credentials. */
export type LiveAdapterFactory = (lane: Lane, credentials: unknown) => ProviderAdapter;
export type LiveAdapterFactories = Readonly<Partial<Record<Protocol, LiveAdapterFactory>>>;

/**
 * The real adapters, one per protocol: every lane of a protocol listed here turns live once its
 * provider's credentials (server/providers/endpoints.ts) are configured.
 */
export const LIVE_ADAPTERS: LiveAdapterFactories = {
  "openai-batch": (lane, endpoint) => openAiBatchAdapter(lane, endpoint as ProviderEndpoint),
  "anthropic-batch": (lane, endpoint) => anthropicBatchAdapter(lane, endpoint as ProviderEndpoint),
  realtime: (lane, endpoint) => realtimeAdapter(lane, endpoint as ProviderEndpoint),
};

const isOff = (c: unknown) => c === false;
const isConfigured = (c: unknown) => c !== undefined && c !== null && c !== false && c !== "";

/** The adapter for a lane in an environment; throws a permanent ProviderError for a switched-off provider. */
export function adapterFor(
  lane: Lane,
  env: ExecutionEnv,
  simulator: ProviderAdapter,
  factories: LiveAdapterFactories = LIVE_ADAPTERS,
): ProviderAdapter {
  // Test keys never reach a provider, whatever is configured: that's the promise of test mode.
  if (env.environment === "test") return simulator;
  const credentials = env.credentials[lane.provider];
  if (isOff(credentials)) {
    throw new ProviderError({ code: "provider_disabled", retryable: false, message: `provider ${lane.provider} is switched off` });
  }
  const factory = factories[lane.protocol];
  if (!isConfigured(credentials) || !factory) {
    throw new ProviderError({
      code: "provider_not_configured",
      retryable: false,
      message: `${lane.provider} has no ${isConfigured(credentials) ? `adapter for ${lane.protocol}` : "credentials"} here; live work never runs on the simulator`,
    });
  }
  return factory(lane, credentials);
}

/** The `provider/protocol` pairs a live key may run on: configured, with an adapter (routing's `live_routes`). */
export function liveRoutes(
  providers: readonly Pick<Provider, "slug" | "protocols">[],
  credentials: ProviderCredentials,
  factories: LiveAdapterFactories = LIVE_ADAPTERS,
): string[] {
  return providers.flatMap((p) =>
    isConfigured(credentials[p.slug]) ? p.protocols.filter((proto) => factories[proto]).map((proto) => `${p.slug}/${proto}`) : [],
  );
}

/**
 * What `/v1/capabilities` reports per provider for live keys: "live" when credentials are configured
 * and one of its protocols has a real adapter, "off" when the operator switched it off, else
 * "simulated".
 */
export function executionModes(
  providers: readonly Pick<Provider, "slug" | "protocols">[],
  credentials: ProviderCredentials,
  factories: LiveAdapterFactories = LIVE_ADAPTERS,
): Record<string, ProviderMode> {
  const out: Record<string, ProviderMode> = {};
  for (const p of providers) {
    const c = credentials[p.slug];
    out[p.slug] = isOff(c) ? "off" : isConfigured(c) && p.protocols.some((proto) => factories[proto]) ? "live" : "simulated";
  }
  return out;
}
