import Router from "@koa/router";
import Koa from "koa";
import type { McpHttpHandler } from "../deps.js";
import type { AppDeps, AppState, AppContext } from "./context.js";
import { errorEnvelope } from "./middleware/errors.js";
import { jsonBody } from "./middleware/json-body.js";
import { consume, createRateLimiters } from "./middleware/rate-limit.js";
import { requestId } from "./middleware/request-id.js";
import { mountRoutes, type RouteSpec } from "./route.js";
import { accountRoutes } from "./routes/accounts.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { batchRoutes } from "./routes/batches.js";
import { billingRoutes } from "./routes/billing.js";
import { catalogRoutes } from "./routes/catalog.js";
import { feedbackRoutes } from "./routes/feedback.js";
import { fileRoutes } from "./routes/files.js";
import { mountMcp } from "./mcp-endpoint.js";
import { quoteRoutes } from "./routes/quotes.js";
import { healthRoutes } from "./routes/health.js";
import { metaRoutes } from "./routes/meta.js";
import { openAiCompatRoutes } from "./routes/openai-compat.js";
import { anthropicCompatRoutes } from "./routes/anthropic-compat.js";

/**
 * Builds the Koa application: one middleware chain, every route from its spec. `mcp` answers
 * /mcp (injected by the composition root; without it /mcp is not served).
 */
export function createApp(deps: AppDeps, mcp?: McpHttpHandler) {
  const app = new Koa<AppState, AppContext>({ proxy: deps.config.TRUST_PROXY });
  app.silent = true; // errors are logged by the error middleware, with the request id
  const limiters = createRateLimiters(deps.db, deps.config);

  const routes: RouteSpec[] = [];
  routes.push(
    ...healthRoutes(deps),
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
  mountRoutes(router, routes, deps, limiters);
  mountRoutes(router, openAiCompatRoutes(deps), deps, limiters); // OpenAI's own shapes, outside /v1/openapi.json
  mountRoutes(router, anthropicCompatRoutes(deps), deps, limiters); // Anthropic's own shapes, likewise

  app.use(requestId(deps));
  app.use(errorEnvelope());
  app.use(async (ctx, next) => {
    // Health probes are exempt so a load balancer can't starve itself out of the limit.
    if (ctx.path !== "/healthz" && ctx.path !== "/readyz") await consume(ctx, limiters.perIp, ctx.ip);
    await next();
  });
  mountMcp(app, deps, limiters, mcp);
  app.use(jsonBody());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, routes };
}
