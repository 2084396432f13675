import type { Actor } from "../../accounts/actor.js";
import { newId } from "../../ids.js";
import type { Logger } from "../../logger.js";
import type { LimitDecision } from "../synced-rate-limiter.js";
import type { AppContext, AppDeps, AppMiddleware, AppState } from "../context.js";

/**
 * A request's state, its logger made on first use: a pino child costs a few microseconds (its
 * bindings are serialised), about a tenth of a cached poll's time, and most requests never log
 * beyond the access line (none when info is off). A class rather than a per-request accessor
 * (Object.defineProperty with closures), which cost the poll's hot path as much again.
 */
export class RequestState implements AppState {
  actor?: Actor;
  body?: unknown;
  rawBody?: Buffer;
  preparedEtag?: string;
  rateLimit?: LimitDecision;
  #log: Logger | undefined;
  #make: (() => Logger) | undefined;

  constructor(
    public requestId: string,
    private readonly base: Logger,
  ) {}

  /** Bound to the request id, and to the org once a key authenticated (see forgetLog). */
  get log(): Logger {
    if (this.#log) return this.#log;
    if (this.#make) return (this.#log = this.#make());
    const actor = this.actor;
    return (this.#log = this.base.child(actor ? { request_id: this.requestId, org_id: actor.org_id } : { request_id: this.requestId }));
  }

  /** Assigning replaces it outright. */
  set log(value: Logger) {
    this.#log = value;
  }

  /** The next use makes the logger again (from `make`, or from what the state now holds: the actor). */
  remake(make?: () => Logger): void {
    this.#log = undefined;
    this.#make = make;
  }
}

/** Makes `state.log` anew on its next use, from `make` or (for a RequestState) from its actor. */
export function setLazyLog(state: { log: Logger }, make: () => Logger): void {
  if (state instanceof RequestState) return state.remake(make);
  let log: Logger | undefined;
  Object.defineProperty(state, "log", {
    configurable: true,
    enumerable: true,
    get: () => (log ??= make()),
    set: (value: Logger) => {
      log = value;
    },
  });
}

/** After authentication: the request's next log line carries the org id too. */
export function logWithActor(state: AppState): void {
  if (state instanceof RequestState) state.remake();
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a sane client X-Request-Id or mints one; every log line and error body carries it. */
export function requestId(deps: AppDeps): AppMiddleware {
  const { logger } = deps;
  return (ctx, next) => {
    const given = ctx.req.headers["x-request-id"];
    const id = typeof given === "string" && SAFE_ID.test(given) ? given : newId("req");
    const state = new RequestState(id, logger);
    ctx.state = state;
    // Straight on the Node response: Koa's ctx.set allocates per call, and this runs on every poll.
    ctx.res.setHeader("X-Request-Id", id);
    return logger.isLevelEnabled("info") ? nextLogged(ctx, state, next) : next();
  };
}

/** The rest of the chain, then the access line. */
async function nextLogged(ctx: AppContext, state: RequestState, next: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  try {
    await next();
  } finally {
    state.log.info(
      {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: Math.round(performance.now() - started),
        key_id: state.actor?.key_id,
      },
      "request",
    );
  }
}
