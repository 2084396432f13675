import { newId } from "../../ids.js";
import type { AppDeps, AppMiddleware } from "../context.js";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a sane client X-Request-Id or mints one; every log line and error body carries it. */
export function requestId(deps: AppDeps): AppMiddleware {
  return async (ctx, next) => {
    const given = ctx.get("X-Request-Id");
    ctx.state.requestId = SAFE_ID.test(given) ? given : newId("req");
    ctx.set("X-Request-Id", ctx.state.requestId);
    ctx.state.log = deps.logger.child({ request_id: ctx.state.requestId });
    const started = performance.now();
    try {
      await next();
    } finally {
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
