import { backoffMs } from "../../server/batches/backoff.js";
import { isRetryableStatus, ProviderError } from "./types.js";

export { backoffMs, type BackoffOptions, MAX_ATTEMPTS, shouldRetry } from "../../server/batches/backoff.js";

// Node's socket and DNS errors: the request may never have reached the provider, so retry.
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

function statusOf(err: Record<string, unknown>): number | undefined {
  for (const v of [err.status, err.statusCode, (err.response as Record<string, unknown> | undefined)?.status]) {
    if (typeof v === "number" && Number.isInteger(v)) return v;
  }
  return undefined;
}

/**
 * The shared verdict on an error from any adapter: ProviderError says so itself; an HTTP status
 * decides by isRetryableStatus (408/409/429/5xx retry; 400/401/403/404/422 don't); timeouts, aborts
 * and network errors retry. Anything else is treated as permanent: a programming error doesn't heal
 * by retrying, and retrying it would only burn the item's attempts.
 */
export function classifyError(err: unknown): "retryable" | "permanent" {
  if (err instanceof ProviderError) return err.retryable ? "retryable" : "permanent";
  if (typeof err !== "object" || err === null) return "permanent";
  const e = err as Record<string, unknown>;
  const status = statusOf(e);
  if (status !== undefined) return isRetryableStatus(status) ? "retryable" : "permanent";
  if (e.name === "TimeoutError" || e.name === "AbortError") return "retryable";
  const codes = [e.code, (e.cause as Record<string, unknown> | undefined)?.code];
  if (codes.some((c) => typeof c === "string" && NETWORK_CODES.has(c))) return "retryable";
  // undici's fetch wraps every transport failure as TypeError("fetch failed").
  if (e instanceof TypeError && e.message === "fetch failed") return "retryable";
  return "permanent";
}

/** Parses an HTTP Retry-After header (seconds or an HTTP date) into ms from `now`. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Runs `fn`, trying again on a retryable error up to `attempts` times in all, with the pipeline's
 * jittered backoff (Retry-After honoured, at most 5 s a wait): for clean-ups that have no job of
 * their own to be retried by.
 */
export async function withRetries<T>(fn: () => Promise<T>, opts: { attempts: number; baseMs: number }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= opts.attempts || classifyError(err) !== "retryable") throw err;
      const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
      await new Promise((r) => setTimeout(r, backoffMs(attempt, { baseMs: opts.baseMs, maxMs: 5000, retryAfterMs })));
    }
  }
}
