import { fail } from "../../errors.js";
import type { DrainState } from "../../ops/drain-state.js";
import type { AppMiddleware } from "../context.js";

/** Still answered while draining: the probes say what is going on, and a last scrape sees the drain. */
const ANSWERED_WHILE_DRAINING = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Once the process drains, new requests get 503 service_unavailable (Retry-After: 1) while the ones
 * already in flight finish; every response then closes its connection, so keep-alive clients
 * reconnect — through the load balancer, to an instance that is staying.
 */
export function refuseWhileDraining(drain: DrainState): AppMiddleware {
  // Not async: koa-compose turns the throw into a rejection, and every request passes here.
  return (ctx, next) => {
    if (!drain.draining) return next();
    ctx.set("Connection", "close");
    if (ANSWERED_WHILE_DRAINING.has(ctx.path)) return next();
    throw fail.serviceUnavailable(
      "This server is shutting down and takes no new requests; retry (another instance will answer).",
      { draining: true },
      { "Retry-After": "1", Connection: "close" },
    );
  };
}
