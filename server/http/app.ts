import Router from "@koa/router";
import Koa from "koa";
import type { Db } from "../../db/connection.js";
import type { McpHttpHandler } from "../deps.js";
import type { AppDeps, AppState, AppContext } from "./context.js";
import { createScrapeRegistry } from "../metrics/scrape-gauges.js";
import { DrainState } from "../ops/drain-state.js";
import { refuseWhileDraining } from "./middleware/draining.js";
import { errorEnvelope } from "./middleware/errors.js";
import { etags } from "./middleware/etag.js";
import { jsonBody } from "./middleware/json-body.js";
import { createRateLimiters, limitRequests } from "./middleware/rate-limit.js";
import { requestId } from "./middleware/request-id.js";
import { hotRoutes } from "./hot-routes.js";
import { mountRoutes, type RouteSpec } from "./route.js";
import { accountRoutes } from "./routes/accounts.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { batchRoutes } from "./routes/batches.js";
import { billingRoutes } from "./routes/billing.js";
import { catalogRoutes } from "./routes/catalog.js";
import { feedbackRoutes } from "./routes/feedback.js";
import { fileRoutes } from "./routes/files.js";
import { mountMcp } from "./mcp-endpoint.js";
import { mountMetrics, timeRequests } from "./metrics-endpoint.js";
import { quoteRoutes } from "./routes/quotes.js";
import { healthRoutes } from "./routes/health.js";
import { metaRoutes } from "./routes/meta.js";
import { openAiCompatRoutes } from "./routes/openai-compat.js";
import { anthropicCompatRoutes } from "./routes/anthropic-compat.js";

/**
 * Health probes and the metrics scrape are exempt from the per-IP limit so monitoring can't starve
 * itself (or customers sharing its address) out of it; /metrics has its own guard.
 */
const UNLIMITED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);
/** Polled in a loop: matched directly after the per-IP limit (see hotRoutes). */
const HOT_ROUTES = ["/v1/batches/:id"];

/**
 * Builds the Koa application: one middleware chain, every route from its spec. `mcp` answers
 * /mcp (injected by the composition root; without it /mcp is not served). `drain` is the process's
 * shutdown state (server/main.ts flips it on SIGTERM); without it the app never drains. `rateLimitDb`
 * replaces the rate limiters' own pool (a test points it at a database that doesn't answer).
 */
export function createApp(deps: AppDeps, mcp?: McpHttpHandler, opts: { drain?: DrainState; rateLimitDb?: Db } = {}) {
  const drain = opts.drain ?? new DrainState();
  const app = new Koa<AppState, AppContext>({ proxy: deps.config.TRUST_PROXY });
  app.silent = true; // errors are logged by the error middleware, with the request id
  const limiters = createRateLimiters(deps, opts.rateLimitDb);

  const routes: RouteSpec[] = [];
  routes.push(
    ...healthRoutes(deps, drain),
    ...metaRoutes(deps, () => routes),
    ...accountRoutes(deps),
    ...billingRoutes(deps),
    ...catalogRoutes(deps),
    ...quoteRoutes(deps),
    ...fileRoutes(deps),
    ...batchRoutes(deps),
    ...feedbackRoutes(deps),
    ...artifactRoutes(deps),
  );

  const router = new Router();
  // The compatible surfaces answer in their providers' own shapes, outside /v1/openapi.json.
  const mounted = [...routes, ...openAiCompatRoutes(deps), ...anthropicCompatRoutes(deps)];
  const runners = mountRoutes(router, mounted, deps, limiters);
  const paths = mounted.map((r) => r.path);
  const hot = hotRoutes(HOT_ROUTES, runners, paths);

  app.use(timeRequests()); // first: it sees the final status, whatever answered
  app.use(requestId(deps));
  app.use(errorEnvelope());
  app.use(refuseWhileDraining(drain));
  app.use(limitRequests(limiters.perIp, UNLIMITED_PATHS, hot));
  mountMetrics(app, deps, createScrapeRegistry(deps.db, deps.logger));
  mountMcp(app, deps, limiters, mcp);
  app.use(jsonBody());
  app.use(etags()); // weak ETags and 304s on JSON GETs
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, routes };
}
