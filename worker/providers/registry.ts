import type { Lane, Protocol, Provider } from "../../server/catalog/types.js";
import { ProviderError, type ProviderAdapter } from "./types.js";

/**
 * Which adapter runs a lane. Test-mode keys always get the simulator; a live key gets a real adapter
 * only when the operator configured the provider's credentials and an adapter for the lane's protocol
 * exists — otherwise the simulator, and `execution: "simulated"` says so wherever it shows.
 */

/** Per provider slug: its credentials, `undefined` when not configured, `false` when switched off. */
export type ProviderCredentials = Readonly<Record<string, unknown>>;

export interface ExecutionEnv {
  environment: "live" | "test";
  credentials: ProviderCredentials;
}

export type ProviderExecution = "live" | "simulated" | "off";

/** Builds the real adapter of one protocol for a lane, given that provider's credentials. */
export type LiveAdapterFactory = (lane: Lane, credentials: unknown) => ProviderAdapter;
export type LiveAdapterFactories = Readonly<Partial<Record<Protocol, LiveAdapterFactory>>>;

/**
 * The real adapters, one per protocol (openai-batch, anthropic-batch, realtime). Empty until they
 * land: each one slots in here and every lane of that protocol with credentials turns live.
 */
export const LIVE_ADAPTERS: LiveAdapterFactories = {};

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
  if (!isConfigured(credentials)) return simulator;
  const factory = factories[lane.protocol];
  return factory ? factory(lane, credentials) : simulator;
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
): Record<string, ProviderExecution> {
  const out: Record<string, ProviderExecution> = {};
  for (const p of providers) {
    const c = credentials[p.slug];
    out[p.slug] = isOff(c) ? "off" : isConfigured(c) && p.protocols.some((proto) => factories[proto]) ? "live" : "simulated";
  }
  return out;
}
