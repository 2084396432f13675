import { hash01 } from "./hash.js";
import { ProviderError, type ItemErrorCode } from "./types.js";

/**
 * Fault injection for the simulator, so tests can exercise retries, permanent failures and lane
 * fallback without a real provider misbehaving on cue. Every decision is a pure function of the
 * item, the attempt and the job seed: re-collecting after a crash fails exactly the same items.
 */

/** Per-item probabilities are per attempt, in [0, 1]. */
export interface LaneFaults {
  rate_limit?: number;
  server_error?: number;
  timeout?: number;
  /** Fails as invalid_input (400), not retryable. */
  permanent?: number;
  content_policy?: number;
  /** Makes submit itself fail, every time. */
  submit_error?: "rate_limited" | "server_error" | "capacity";
  /** Submit fails with a retryable 503 every time, so the worker moves down the fallback ladder. */
  lane_down?: boolean;
}

/** The per-item rates resolved for one lane; stored in the job ref so collect needs no config. */
export interface ItemFaultRates {
  permanent: number;
  content_policy: number;
  rate_limit: number;
  server_error: number;
  timeout: number;
}

export interface FaultOutcome {
  code: ItemErrorCode;
  message: string;
  provider_status?: number;
  retryable: boolean;
}

const NO_FAULTS: ItemFaultRates = { permanent: 0, content_policy: 0, rate_limit: 0, server_error: 0, timeout: 0 };

// Buckets are laid end to end on [0, 1) in this fixed order, so the kinds are mutually exclusive and
// each one's share is exactly its configured rate (until the rates add up past 1).
const ORDER: (keyof ItemFaultRates)[] = ["permanent", "content_policy", "rate_limit", "server_error", "timeout"];

const OUTCOMES: Record<keyof ItemFaultRates, FaultOutcome> = {
  permanent: {
    code: "invalid_input",
    provider_status: 400,
    retryable: false,
    message: "Simulated invalid request: the provider rejected this item's input.",
  },
  content_policy: {
    code: "content_policy",
    provider_status: 400,
    retryable: false,
    message: "Simulated content policy violation: the provider refused this item.",
  },
  rate_limit: {
    code: "rate_limited",
    provider_status: 429,
    retryable: true,
    message: "Simulated rate limit: too many requests, retry later.",
  },
  server_error: {
    code: "provider_error",
    provider_status: 500,
    retryable: true,
    message: "Simulated server error: the provider failed while processing this item.",
  },
  timeout: { code: "timeout", retryable: true, message: "Simulated timeout: the request did not finish in time." },
};

/** Glob match on lane ids: `*` is any run of characters (slashes included), `?` one character. */
export function laneMatches(pattern: string, laneId: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(laneId);
}

/**
 * The entry for a lane in a table keyed by lane id or glob: the exact id wins, then the matching glob
 * with the most literal characters (the most specific); a tie goes to the one declared first. Entries
 * are not merged, so one glob's settings never leak into a lane another entry describes.
 */
export function entryForLane<T>(table: Readonly<Record<string, T>> | undefined, laneId: string): T | undefined {
  if (!table) return undefined;
  if (Object.hasOwn(table, laneId)) return table[laneId];
  let best: { literal: number; value: T } | undefined;
  for (const [pattern, value] of Object.entries(table)) {
    if (!laneMatches(pattern, laneId)) continue;
    const literal = pattern.replace(/[*?]/g, "").length;
    if (!best || literal > best.literal) best = { literal, value };
  }
  return best?.value;
}

const clampRate = (v: number | undefined) => (typeof v === "number" && Number.isFinite(v) ? Math.min(Math.max(v, 0), 1) : 0);

/** The per-item rates of a lane's fault entry (zeros when there is none). */
export function itemFaultRates(faults: LaneFaults | undefined): ItemFaultRates {
  if (!faults) return { ...NO_FAULTS };
  return Object.fromEntries(ORDER.map((k) => [k, clampRate(faults[k])])) as unknown as ItemFaultRates;
}

/** The error submit throws for a lane that is down or set to refuse jobs; undefined when it accepts. */
export function submitFault(faults: LaneFaults | undefined, laneId: string): ProviderError | undefined {
  if (faults?.lane_down) {
    return new ProviderError({
      code: "lane_down",
      status: 503,
      retryable: true,
      message: `Simulated outage: lane ${laneId} is unavailable.`,
    });
  }
  switch (faults?.submit_error) {
    case "rate_limited":
      return new ProviderError({
        code: "rate_limited",
        status: 429,
        retryAfterMs: 1_000,
        retryable: true,
        message: "Simulated rate limit at submit.",
      });
    case "server_error":
      return new ProviderError({ code: "provider_error", status: 500, retryable: true, message: "Simulated server error at submit." });
    case "capacity":
      // Like OpenAI's token_limit_exceeded: the lane is full for now, the job itself is fine.
      return new ProviderError({
        code: "lane_at_capacity",
        status: 429,
        retryAfterMs: 30_000,
        retryable: true,
        message: `Simulated capacity limit: lane ${laneId} has too many queued tokens.`,
      });
    default:
      return undefined;
  }
}

/**
 * Magic strings in an item's input text, for end-to-end tests that can't reach the simulator's
 * config. content_policy and invalid_input fail every attempt (not retryable); rate_limit,
 * server_error and timeout fail attempts 1 and 2 (retryable) and let attempt 3 onwards through.
 * When several are present the first in this list wins.
 */
export const TRIGGERS: readonly { marker: string; kind: keyof ItemFaultRates; untilAttempt: number }[] = [
  { marker: "[simulate:content_policy]", kind: "content_policy", untilAttempt: Infinity },
  { marker: "[simulate:invalid_input]", kind: "permanent", untilAttempt: Infinity },
  { marker: "[simulate:rate_limit]", kind: "rate_limit", untilAttempt: 3 },
  { marker: "[simulate:server_error]", kind: "server_error", untilAttempt: 3 },
  { marker: "[simulate:timeout]", kind: "timeout", untilAttempt: 3 },
];

/** The failure a magic trigger forces on this attempt, if any. */
export function triggeredFault(texts: readonly string[], attempt: number): FaultOutcome | undefined {
  for (const t of TRIGGERS) {
    if (texts.some((s) => s.includes(t.marker))) {
      return attempt < t.untilAttempt ? { ...OUTCOMES[t.kind] } : undefined;
    }
  }
  return undefined;
}

/** The injected failure for (customer_item_id, attempt, seed), if its draw lands in a fault bucket. */
export function randomFault(rates: ItemFaultRates, customerItemId: string, attempt: number, seed: string): FaultOutcome | undefined {
  const total = ORDER.reduce((s, k) => s + rates[k], 0);
  if (total <= 0) return undefined;
  const u = hash01("fault", seed, customerItemId, attempt);
  let edge = 0;
  for (const kind of ORDER) {
    edge += rates[kind];
    if (u < edge) return { ...OUTCOMES[kind] };
  }
  return undefined;
}
