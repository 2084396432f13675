import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { providerFetch } from "./provider-fetch.js";
import { ProviderError } from "./types.js";

/**
 * The HTTP side of Anthropic's API: `x-api-key` and `anthropic-version` on every call, timeouts,
 * and errors (`{type: "error", error: {type, message}}`) turned into ProviderError with the
 * provider's type as the code, `retry-after`, and any echoed key redacted. 529 (overloaded) is
 * retryable like any 5xx.
 */
export interface AnthropicHttp {
  json<T = Record<string, unknown>>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T>;
  /** GET a JSONL stream (batch results), never read whole. */
  stream(path: string): Promise<ReadableStream<Uint8Array>>;
}

export const ANTHROPIC_VERSION = "2023-06-01";
/** The Message Batches collection, and one batch in it. */
export const BATCHES = "/v1/messages/batches";
export const batchPath = (id: string) => `${BATCHES}/${encodeURIComponent(id)}`;
const TIMEOUT_MS = 60_000;
const STREAM_TIMEOUT_MS = 10 * 60_000;

export function anthropicHttp(endpoint: ProviderEndpoint, opts: { timeoutMs?: number } = {}): AnthropicHttp {
  const send = (method: string, path: string, body: unknown, timeoutMs: number) =>
    providerFetch(
      endpoint,
      {
        method,
        url: `${endpoint.baseUrl}${path}`,
        path,
        headers: {
          "anthropic-version": ANTHROPIC_VERSION,
          ...(endpoint.apiKey ? { "x-api-key": endpoint.apiKey } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs,
      },
      readAnthropicError,
    );
  return {
    async json(method, path, body) {
      return (await (await send(method, path, body, opts.timeoutMs ?? TIMEOUT_MS)).json()) as never;
    },
    async stream(path) {
      const res = await send("GET", path, undefined, STREAM_TIMEOUT_MS);
      if (!res.body) throw new ProviderError({ code: "provider_error", message: `${endpoint.slug}: ${path} had no body` });
      return res.body;
    },
  };
}

/** Anthropic's `{type: "error", error: {type, message}}`: the type is the code (rate_limit_error → rate_limited). */
const readAnthropicError = (body: unknown) => {
  const e = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  const type = typeof e?.type === "string" ? e.type : undefined;
  return { code: type === "rate_limit_error" ? "rate_limited" : type, message: typeof e?.message === "string" ? e.message : undefined };
};
