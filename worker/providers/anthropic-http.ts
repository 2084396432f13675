import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { redactSecrets } from "../../server/providers/endpoints.js";
import { parseRetryAfter } from "./retry-policy.js";
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
const TIMEOUT_MS = 60_000;
const STREAM_TIMEOUT_MS = 10 * 60_000;

export function anthropicHttp(endpoint: ProviderEndpoint, opts: { timeoutMs?: number } = {}): AnthropicHttp {
  const send = async (method: string, path: string, body: unknown, timeoutMs: number) => {
    let res: Response;
    try {
      res = await fetch(`${endpoint.baseUrl}${path}`, {
        method,
        headers: {
          "anthropic-version": ANTHROPIC_VERSION,
          ...(endpoint.apiKey ? { "x-api-key": endpoint.apiKey } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timeout = (err as Error).name === "TimeoutError";
      throw new ProviderError({
        code: timeout ? "timeout" : "network_error",
        message: `${endpoint.slug}: ${method} ${path} ${timeout ? "timed out" : "failed"}`,
        cause: err,
      });
    }
    if (!res.ok) throw await errorOf(endpoint, method, path, res);
    return res;
  };
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

async function errorOf(endpoint: ProviderEndpoint, method: string, path: string, res: Response): Promise<ProviderError> {
  const text = await res.text().catch(() => "");
  let code = res.status === 429 ? "rate_limited" : res.status >= 500 ? "provider_error" : "invalid_request";
  let message = text.slice(0, 500);
  try {
    const e = (JSON.parse(text) as { error?: { type?: unknown; message?: unknown } }).error;
    if (e && typeof e.message === "string") message = e.message;
    if (e && typeof e.type === "string") code = e.type === "rate_limit_error" ? "rate_limited" : e.type;
  } catch {
    // not JSON: keep the text
  }
  if (res.status === 401) code = "unauthorized";
  return new ProviderError({
    code,
    status: res.status,
    message: redactSecrets(`${endpoint.slug}: ${method} ${path} → ${res.status}: ${message}`, { [endpoint.slug]: endpoint }),
    retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
  });
}
