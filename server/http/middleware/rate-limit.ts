import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type { Db } from "../../../db/connection.js";
import type { Config } from "../../config.js";
import { errors } from "../../errors.js";
import type { AppContext, RateLimiters } from "../context.js";

/**
 * Counters live in PostgreSQL (the rate_limits table of migration 0001), so every API process
 * behind a load balancer shares them.
 */
export function createRateLimiters(db: Db, config: Config): RateLimiters {
  const make = (keyPrefix: string, points: number, duration: number) =>
    new RateLimiterPostgres({
      storeClient: db,
      storeType: "knex",
      tableName: "rate_limits",
      tableCreated: true,
      clearExpiredByTimeout: false, // the purge job deletes expired rows
      keyPrefix,
      points,
      duration,
    });
  return {
    perIp: make("ip", config.RATE_LIMIT_PER_IP_PER_MIN, 60),
    perKey: make("key", config.RATE_LIMIT_PER_KEY_PER_MIN, 60),
    agentRegister: make("register", config.AGENT_REGISTER_PER_IP_PER_HOUR, 3600),
  };
}

function setHeaders(ctx: AppContext, limit: number, res: RateLimiterRes) {
  ctx.set("RateLimit-Limit", String(limit));
  ctx.set("RateLimit-Remaining", String(Math.max(0, res.remainingPoints)));
  ctx.set("RateLimit-Reset", String(Math.max(1, Math.ceil(res.msBeforeNext / 1000))));
}

/**
 * Takes one point for `key`; sets the RateLimit-* headers (the latest, narrowest limiter wins) and
 * throws 429 with Retry-After when the window is spent.
 */
export async function consume(ctx: AppContext, limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    const res = await limiter.consume(key, 1);
    setHeaders(ctx, limiter.points, res);
  } catch (e) {
    if (!(e instanceof RateLimiterRes)) throw e;
    setHeaders(ctx, limiter.points, e);
    throw errors.rateLimited(Math.max(1, Math.ceil(e.msBeforeNext / 1000)));
  }
}
