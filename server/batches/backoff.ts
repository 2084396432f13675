/**
 * The retry policy of the batch pipeline (api.md §5 "Execution rules"): how many attempts an item
 * gets and how long to wait between them. The domain's, since the pipeline's decisions use it; the
 * adapters (worker/providers/retry-policy.ts) re-export it.
 */

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
