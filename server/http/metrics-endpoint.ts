import type { ServerResponse } from "node:http";
import type Koa from "koa";
import type { Registry } from "prom-client";
import { metricsAccessError } from "../metrics/access.js";
import { renderMetrics } from "../metrics/exposition.js";
import type { HistogramSeries } from "../metrics/bucket-histogram.js";
import { httpRequestSeconds } from "../metrics/process-metrics.js";
import type { AppContext, AppDeps, AppMiddleware, AppState } from "./context.js";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Paths answered outside the router, each its own label. */
const OWN_LABEL: Record<string, string> = { "/mcp": "/mcp", "/mcp/": "/mcp", "/metrics": "/metrics" };

const TIMED = Symbol("timed request");
type TimedResponse = ServerResponse & { [TIMED]?: { ctx: AppContext; started: number } };

/**
 * The histogram's series by route, method and status, each resolved once (the labels are bounded,
 * see timeRequests). Nested rather than one joined key: the route and method are the same string
 * objects request after request, whose hashes V8 keeps, where a joined key is a new string to hash.
 */
const seriesByRoute = new Map<string, Map<string, HistogramSeries[]>>();

function seriesOf(method: string, route: string, status: number): HistogramSeries {
  let byMethod = seriesByRoute.get(route);
  if (!byMethod) seriesByRoute.set(route, (byMethod = new Map()));
  let byStatus = byMethod.get(method);
  if (!byStatus) byMethod.set(method, (byStatus = []));
  return (byStatus[status] ??= httpRequestSeconds.seriesOf({ method, route, status_class: `${Math.floor(status / 100)}xx` }));
}

/** Records a request's time once its response is sent; one function for every request, not a closure each. */
function observeOnClose(this: TimedResponse): void {
  const timed = this[TIMED];
  if (!timed) return;
  this[TIMED] = undefined;
  const { ctx, started } = timed;
  const matched = (ctx as AppContext & { _matchedRoute?: string | RegExp })._matchedRoute;
  const method = METHODS.has(ctx.method) ? ctx.method : "OTHER";
  const route = typeof matched === "string" ? matched : (OWN_LABEL[ctx.path] ?? "unmatched");
  seriesOf(method, route, ctx.status).observe((performance.now() - started) / 1000);
}

/**
 * Times every request until its response is fully sent (a streamed download included), labelled
 * with the router's pattern — `/v1/batches/:id`, never the id — so the series stay bounded whatever
 * URLs clients send; anything no route matched is `unmatched`.
 */
export function timeRequests(): AppMiddleware {
  return (ctx, next) => {
    const res = ctx.res as TimedResponse;
    res[TIMED] = { ctx, started: performance.now() };
    res.on("close", observeOnClose);
    return next();
  };
}

/**
 * GET /metrics in Prometheus' text format, under the rule of server/metrics/access.ts. Mounted
 * beside the router, like /mcp: it is an operator's endpoint, not part of the API contract, so
 * it stays out of /v1/openapi.json (and out of the SDK-facing error shapes of the compat surfaces).
 */
export function mountMetrics(app: Koa<AppState, AppContext>, deps: AppDeps, scrape: Registry): void {
  app.use(async (ctx, next) => {
    if (ctx.path !== "/metrics" || (ctx.method !== "GET" && ctx.method !== "HEAD")) return next();
    const refused = metricsAccessError(deps.config.METRICS_TOKEN, {
      authorization: ctx.get("Authorization") || undefined,
      remoteAddress: ctx.req.socket.remoteAddress,
      forwarded: Boolean(ctx.get("X-Forwarded-For") || ctx.get("Forwarded")),
    });
    if (refused) throw refused;
    const { contentType, body } = await renderMetrics(scrape);
    ctx.set("Content-Type", contentType); // before the body, so Koa keeps it rather than text/plain
    ctx.body = body;
  });
}
