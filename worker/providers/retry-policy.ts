import { isRetryableStatus, ProviderError } from "./types.js";

/** Attempts per item before a retryable failure becomes final (api.md §5 "Execution rules"). */
export const MAX_ATTEMPTS = 8;

export interface BackoffOptions {
  /** Ceiling of the first retry's delay; each further attempt doubles it. */
  baseMs: number;
  /** No delay is ever longer than this, Retry-After included. */
  maxMs: number;
  /** The provider's Retry-After, in ms: the delay is at least this (up to maxMs). */
  retryAfterMs?: number;
}

/**
 * Delay before the next attempt after attempt `attempt` (1-based) failed: "full jitter" — uniform in
 * [0, min(maxMs, baseMs·2^(attempt-1))) — so many workers retrying a shared 429 spread out instead of
 * stampeding together. A Retry-After is a floor: retrying before it only earns another 429.
 */
export function backoffMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 40); // 2^40·base already exceeds any sane max
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** exponent);
  const jittered = Math.floor(Math.min(Math.max(random(), 0), 1) * ceiling);
  const floor = opts.retryAfterMs !== undefined && opts.retryAfterMs > 0 ? opts.retryAfterMs : 0;
  return Math.max(0, Math.min(opts.maxMs, Math.max(jittered, floor)));
}

/** Whether an item that failed on `attempt` gets another one. */
export function shouldRetry(attempt: number, verdict: "retryable" | "permanent"): boolean {
  return verdict === "retryable" && attempt < MAX_ATTEMPTS;
}

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
