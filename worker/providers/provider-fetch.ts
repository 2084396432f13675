import { type ProviderEndpoint, redactSecrets } from "../../server/providers/endpoints.js";
import { parseRetryAfter } from "./retry-policy.js";
import { ProviderError } from "./types.js";

/**
 * The transport every provider client shares: fetch with a timeout, a transport failure or timeout
 * as a retryable ProviderError, and a non-2xx answer as a ProviderError carrying the provider's code
 * (read by `codeOf` from its error body), its status, `Retry-After`, and no echoed key.
 */
export interface ProviderCall {
  method: string;
  url: string;
  /** For messages: the path without the host (never a key or a query with one). */
  path: string;
  headers: Record<string, string>;
  body?: BodyInit;
  timeoutMs: number;
}

/** Reads a provider's error body: its own code for the error (or undefined for the default) and message. */
export type ErrorReader = (body: unknown, status: number) => { code?: string; message?: string };

export async function providerFetch(endpoint: ProviderEndpoint, call: ProviderCall, readError: ErrorReader): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body,
      signal: AbortSignal.timeout(call.timeoutMs),
    });
  } catch (err) {
    const timeout = (err as Error).name === "TimeoutError";
    throw new ProviderError({
      code: timeout ? "timeout" : "network_error",
      message: `${endpoint.slug}: ${call.method} ${call.path} ${timeout ? "timed out" : "failed"}`,
      cause: err,
    });
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => "");
  let parsed: { code?: string; message?: string } = {};
  try {
    parsed = readError(JSON.parse(text), res.status);
  } catch {
    // not JSON: the text is the message
  }
  const fallback = res.status === 429 ? "rate_limited" : res.status >= 500 ? "provider_error" : "invalid_request";
  return Promise.reject(
    new ProviderError({
      code: res.status === 401 ? "unauthorized" : (parsed.code ?? fallback),
      status: res.status,
      message: redactSecrets(`${endpoint.slug}: ${call.method} ${call.path} → ${res.status}: ${parsed.message ?? text.slice(0, 500)}`, {
        [endpoint.slug]: endpoint,
      }),
      retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
    }),
  );
}
