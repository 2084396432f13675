import type { Context, Middleware } from "koa";
import type { Actor } from "../accounts/actor.js";
import type { AppDeps } from "../deps.js";
import type { Logger } from "../logger.js";
import type { LimitDecision, SyncedRateLimiter } from "./synced-rate-limiter.js";

export interface AppState {
  requestId: string;
  actor?: Actor;
  /** The parsed JSON body (set by the body middleware) — undefined when the request had none. */
  body?: unknown;
  rawBody?: Buffer;
  /** The ETag of a body a handler serialised ahead (a PreparedJson), so the ETag step needn't hash it. */
  preparedEtag?: string;
  /** The binding rate-limit decision so far: what the RateLimit-* headers will show (middleware/rate-limit.ts). */
  rateLimit?: LimitDecision;
  log: Logger;
}

export type AppContext = Context & { state: AppState };
export type AppMiddleware = Middleware<AppState, AppContext>;
export type { AppDeps };

/** The request counters (middleware/rate-limit.ts): in memory, synced through PostgreSQL so every API process shares them. */
export interface RateLimiters {
  perIp: SyncedRateLimiter;
  perKey: SyncedRateLimiter;
  agentRegister: SyncedRateLimiter;
}
