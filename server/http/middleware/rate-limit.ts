import { sidePool, type Db } from "../../../db/connection.js";
import { errors } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { AppContext, AppDeps, AppMiddleware, RateLimiters } from "../context.js";
import { SyncedRateLimiter, type LimitDecision } from "../synced-rate-limiter.js";

/** Connections of the limiters' own pool: one flush and a request's exact-tail upsert at a time, plus one. */
const LIMITER_POOL_MAX = 3;
/** The side pool's bound on acquiring, connecting and each statement: a sync is retried, not queued. */
const LIMITER_DB_TIMEOUT_MS = 2_000;
/** At most one warning this often while decisions are made without the database. */
const WARN_EVERY_MS = 10_000;

/**
 * Counters live in PostgreSQL (the rate_limits table of migration 0001), so every API process
 * behind a load balancer shares them; each process counts in memory between syncs, so the hot path
 * holds no row lock (see SyncedRateLimiter for the tolerance across processes). The syncs run on a
 * small pool of their own (`db`'s side pool, unless `limiterDb` is given): on the main pool they
 * would wait behind whatever holds its connections — a big batch can hold all of them for seconds
 * — and every request needing a fresh view would wait with them.
 */
export function createRateLimiters(deps: Pick<AppDeps, "db" | "config" | "logger">, limiterDb?: Db): RateLimiters {
  const db = limiterDb ?? sidePool(deps.db, "rate-limiter", { max: LIMITER_POOL_MAX, timeoutMs: LIMITER_DB_TIMEOUT_MS });
  const onLocalDecision = localDecisionWarner(deps.logger);
  const make = (keyPrefix: string, points: number, durationSeconds: number) =>
    new SyncedRateLimiter(db, { keyPrefix, points, durationSeconds, onLocalDecision });
  return {
    perIp: make("ip", deps.config.RATE_LIMIT_PER_IP_PER_MIN, 60),
    perKey: make("key", deps.config.RATE_LIMIT_PER_KEY_PER_MIN, 60),
    agentRegister: make("register", deps.config.AGENT_REGISTER_PER_IP_PER_HOUR, 3600),
  };
}

/** Counts decisions made without the database and warns of them once per WARN_EVERY_MS, never per request. */
function localDecisionWarner(logger: Logger): (reason: unknown) => void {
  let warnedAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (reason) => {
    since++;
    const now = Date.now();
    if (now - warnedAt < WARN_EVERY_MS) return;
    logger.warn(
      { err: reason, local_decisions: since, window_ms: Number.isFinite(warnedAt) ? now - warnedAt : undefined },
      "rate limits decided without the database (its sync failed or was slow): failing open on each process's own counts",
    );
    warnedAt = now;
    since = 0;
  };
}

const secondsUntil = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Takes one point for `key` and throws 429 with Retry-After when the window is spent. The request
 * shows the limit closest to refusing it among those it spent a point of (see
 * writeRateLimitHeaders). Decided from memory (most requests) it returns nothing to wait for; await
 * it either way.
 */
export function consume(ctx: AppContext, limiter: SyncedRateLimiter, key: string): Promise<void> | undefined {
  const quick = limiter.tryConsume(key);
  if (quick) return apply(ctx, quick);
  return limiter.consume(key).then((d) => apply(ctx, d));
}

function apply(ctx: AppContext, d: LimitDecision): undefined {
  const shown = ctx.state.rateLimit;
  // The binding limit is the one with the fewest requests left; on a tie the later, narrower one
  // (the key's over the address's), as before the headers were written once.
  if (!shown || Math.max(0, d.remaining) <= Math.max(0, shown.remaining)) ctx.state.rateLimit = d;
  if (!d.allowed) throw errors.rateLimited(secondsUntil(d.msBeforeReset));
  return undefined;
}

/**
 * Sets RateLimit-Limit, -Remaining and -Reset from the binding decision, once per response, straight
 * on the Node response (Koa's ctx.set allocates per call; this runs on every poll). Call it after the
 * limits were taken and before the response goes out; it does nothing once headers are sent.
 */
export function writeRateLimitHeaders(ctx: AppContext): void {
  const d = ctx.state.rateLimit;
  const res = ctx.res;
  if (!d || res.headersSent) return;
  res.setHeader("RateLimit-Limit", String(d.limit));
  res.setHeader("RateLimit-Remaining", String(Math.max(0, d.remaining)));
  res.setHeader("RateLimit-Reset", String(secondsUntil(d.msBeforeReset)));
}

/**
 * The per-IP limit in front of `rest` (the rest of the chain), and the RateLimit-* headers of
 * whichever limit binds, written as the request leaves — after the key's limit and any route's own
 * limiter were taken, whether it was answered or refused. `exempt` paths take no point and show none.
 */
export function limitRequests(perIp: SyncedRateLimiter, exempt: ReadonlySet<string>, rest: AppMiddleware): AppMiddleware {
  return async (ctx, next) => {
    if (exempt.has(ctx.path)) return rest(ctx, next);
    try {
      const limited = consume(ctx, perIp, ctx.ip);
      if (limited) await limited;
      await rest(ctx, next);
    } finally {
      writeRateLimitHeaders(ctx);
    }
  };
}
