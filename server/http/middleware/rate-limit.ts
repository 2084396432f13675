import type { Db } from "../../../db/connection.js";
import type { Config } from "../../config.js";
import { errors } from "../../errors.js";
import type { AppContext, RateLimiters } from "../context.js";
import { SyncedRateLimiter, type LimitDecision } from "../synced-rate-limiter.js";

/**
 * Counters live in PostgreSQL (the rate_limits table of migration 0001), so every API process
 * behind a load balancer shares them; each process counts in memory between syncs, so the hot path
 * holds no row lock (see SyncedRateLimiter for the tolerance across processes).
 */
export function createRateLimiters(db: Db, config: Config): RateLimiters {
  const make = (keyPrefix: string, points: number, durationSeconds: number) =>
    new SyncedRateLimiter(db, { keyPrefix, points, durationSeconds });
  return {
    perIp: make("ip", config.RATE_LIMIT_PER_IP_PER_MIN, 60),
    perKey: make("key", config.RATE_LIMIT_PER_KEY_PER_MIN, 60),
    agentRegister: make("register", config.AGENT_REGISTER_PER_IP_PER_HOUR, 3600),
  };
}

const secondsUntil = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function setHeaders(ctx: AppContext, limit: number, d: LimitDecision) {
  ctx.set("RateLimit-Limit", String(limit));
  ctx.set("RateLimit-Remaining", String(Math.max(0, d.remaining)));
  ctx.set("RateLimit-Reset", String(secondsUntil(d.msBeforeReset)));
}

/**
 * Takes one point for `key`; sets the RateLimit-* headers (the latest, narrowest limiter wins) and
 * throws 429 with Retry-After when the window is spent.
 */
export async function consume(ctx: AppContext, limiter: SyncedRateLimiter, key: string): Promise<void> {
  const d = await limiter.consume(key);
  setHeaders(ctx, limiter.points, d);
  if (!d.allowed) throw errors.rateLimited(secondsUntil(d.msBeforeReset));
}
