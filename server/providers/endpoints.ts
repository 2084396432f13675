import { z } from "zod";
import { privacyTierSchema, regionSchema } from "../catalog/types.js";

/**
 * Where each provider is reached, from the operator's environment (README "Providers"). A provider
 * without an entry has no credentials: its lanes serve test keys (on the simulator) only, and a live
 * key's quote rejects them as `provider_not_configured`. Secrets stay in this object: it is never
 * logged, put in a receipt, an error or the OpenAPI document.
 */
export type EndpointKind = "openai" | "azure-openai" | "anthropic" | "openai-compatible";

export interface ProviderEndpoint {
  /** The catalog provider slug (or a custom endpoint's own slug). */
  slug: string;
  kind: EndpointKind;
  /** Up to and including `/v1` for OpenAI-style APIs (Azure: the resource endpoint). */
  baseUrl: string;
  /** Omitted for a local server that takes no key (Ollama, llama.cpp). */
  apiKey?: string;
  /** Azure's `api-version` query parameter. */
  apiVersion?: string;
  /** Requests in flight at once on a real-time lane of this endpoint. */
  maxConcurrency: number;
  /** Token bucket of real-time requests per minute (0: unlimited). */
  requestsPerMinute: number;
}

export type ProviderEndpoints = Readonly<Record<string, ProviderEndpoint>>;

/** The providers configured by a key and an optional base URL, with their public defaults. */
export const KEYED_PROVIDERS = [
  { slug: "openai", kind: "openai", key: "OPENAI_API_KEY", url: "OPENAI_BASE_URL", default: "https://api.openai.com/v1" },
  { slug: "anthropic", kind: "anthropic", key: "ANTHROPIC_API_KEY", url: "ANTHROPIC_BASE_URL", default: "https://api.anthropic.com" },
  { slug: "groq", kind: "openai", key: "GROQ_API_KEY", url: "GROQ_BASE_URL", default: "https://api.groq.com/openai/v1" },
  { slug: "together", kind: "openai", key: "TOGETHER_API_KEY", url: "TOGETHER_BASE_URL", default: "https://api.together.xyz/v1" },
  {
    slug: "deepinfra",
    kind: "openai",
    key: "DEEPINFRA_API_KEY",
    url: "DEEPINFRA_BASE_URL",
    default: "https://api.deepinfra.com/v1/openai",
  },
  { slug: "mistral", kind: "openai-compatible", key: "MISTRAL_API_KEY", url: "MISTRAL_BASE_URL", default: "https://api.mistral.ai/v1" },
] as const;

const DEFAULT_CONCURRENCY = 8;

/** One custom OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, LM Studio…). */
export const customEndpointSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{1,40}$/, 'a lower-case slug such as "local-vllm"'),
  base_url: z.url({ protocol: /^https?$/ }).describe("up to /v1, e.g. http://127.0.0.1:8000/v1"),
  api_key: z.string().min(1).optional(),
  models: z
    .array(
      z.strictObject({
        model: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'a catalog model slug, or a new one such as "llama3.1-8b"'),
        served_as: z.string().min(1).optional(),
        input_per_mtok: z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'USD per million tokens, e.g. "0.10"'),
        output_per_mtok: z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'USD per million tokens, e.g. "0.20"'),
        context_window: z.int().min(256).max(10_000_000),
        tools: z.boolean().default(false),
      }),
    )
    .min(1),
  region: regionSchema.default("global"),
  privacy_tier: privacyTierSchema.default("standard"),
  max_concurrency: z.int().min(1).max(1024).default(4),
  requests_per_minute: z.int().min(0).max(1_000_000).default(0),
});
export type CustomEndpoint = z.infer<typeof customEndpointSchema>;

export const customEndpointsSchema = z.array(customEndpointSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((e, i) => {
    if (seen.has(e.slug)) ctx.addIssue({ code: "custom", path: [i, "slug"], message: `"${e.slug}" is used twice` });
    seen.add(e.slug);
  });
});

type Env = Readonly<Record<string, string | undefined>>;

/** The endpoints of the keyed providers, Azure, and the custom endpoints (already validated). */
export function providerEndpoints(env: Env, custom: readonly CustomEndpoint[]): ProviderEndpoints {
  const out: Record<string, ProviderEndpoint> = {};
  for (const p of KEYED_PROVIDERS) {
    const apiKey = env[p.key];
    if (!apiKey) continue;
    out[p.slug] = {
      slug: p.slug,
      kind: p.kind,
      baseUrl: trimSlash(env[p.url] || p.default),
      apiKey,
      maxConcurrency: DEFAULT_CONCURRENCY,
      requestsPerMinute: 0,
    };
  }
  if (env.AZURE_OPENAI_API_KEY && env.AZURE_OPENAI_ENDPOINT) {
    out["azure-openai"] = {
      slug: "azure-openai",
      kind: "azure-openai",
      baseUrl: trimSlash(env.AZURE_OPENAI_ENDPOINT),
      apiKey: env.AZURE_OPENAI_API_KEY,
      apiVersion: env.AZURE_OPENAI_API_VERSION || "2024-10-21",
      maxConcurrency: DEFAULT_CONCURRENCY,
      requestsPerMinute: 0,
    };
  }
  for (const c of custom) {
    out[c.slug] = {
      slug: c.slug,
      kind: "openai-compatible",
      baseUrl: trimSlash(c.base_url),
      ...(c.api_key ? { apiKey: c.api_key } : {}),
      maxConcurrency: c.max_concurrency,
      requestsPerMinute: c.requests_per_minute,
    };
  }
  return out;
}

const trimSlash = (u: string) => u.replace(/\/+$/, "");

/** Replaces every configured secret found in `text` (a provider's error echoing a key) with "[redacted]". */
export function redactSecrets(text: string, endpoints: ProviderEndpoints): string {
  let out = text;
  for (const e of Object.values(endpoints)) {
    if (e.apiKey && e.apiKey.length >= 6) out = out.split(e.apiKey).join("[redacted]");
  }
  // Key shapes of the providers we know, in case the text echoes a key we don't hold.
  return out.replace(/\b(sk-[A-Za-z0-9_-]{8,}|sk-ant-[A-Za-z0-9_-]{8,}|gsk_[A-Za-z0-9]{8,})\b/g, "[redacted]");
}
