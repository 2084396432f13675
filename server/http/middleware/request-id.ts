import { newId } from "../../ids.js";
import type { Logger } from "../../logger.js";
import type { AppDeps, AppMiddleware } from "../context.js";

/**
 * Sets `state.log` to a logger made on first use. A pino child costs a few microseconds (its
 * bindings are serialised), about a tenth of a cached poll's time, and most requests never log
 * beyond the access line (none when info is off). Assigning `state.log` replaces it outright.
 */
export function setLazyLog(state: { log: Logger }, make: () => Logger): void {
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

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a sane client X-Request-Id or mints one; every log line and error body carries it. */
export function requestId(deps: AppDeps): AppMiddleware {
  return async (ctx, next) => {
    const given = ctx.get("X-Request-Id");
    ctx.state.requestId = SAFE_ID.test(given) ? given : newId("req");
    ctx.set("X-Request-Id", ctx.state.requestId);
    const id = ctx.state.requestId;
    setLazyLog(ctx.state, () => deps.logger.child({ request_id: id }));
    const started = performance.now();
    try {
      await next();
    } finally {
      if (deps.logger.isLevelEnabled("info"))
        ctx.state.log.info(
          {
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(performance.now() - started),
            key_id: ctx.state.actor?.key_id,
          },
          "request",
        );
    }
  };
}
