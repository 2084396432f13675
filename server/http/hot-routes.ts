import type { AppContext, AppMiddleware } from "./context.js";
import { tagAnswer } from "./middleware/etag.js";
import type { RouteRunner } from "./route.js";

interface HotRoute {
  /** The path up to its one parameter, e.g. `/v1/batches/`. */
  prefix: string;
  param: string;
  pattern: string;
  run: RouteRunner;
  /** Literal routes beside the parameter (`optimization-report`), lower-cased: the router prefers them. */
  siblings: ReadonlySet<string>;
}

/**
 * GET routes that clients poll in a loop (a batch's status), matched directly once the per-IP
 * limit has passed rather than after a router walk over every route and the middlewares meant for
 * other paths and for bodies. Each runs its route's whole pipeline (auth, the key's limit,
 * validation, handler) and the ETag step, exactly as behind the router. Only the plain form takes
 * this way — `<prefix><one segment>` without a body, a percent-escape or a literal sibling route;
 * anything else (a trailing slash, other letter case, HEAD…) goes the generic way, which answers it
 * as before. `patterns` are every mounted route's path, to find the siblings.
 */
export function hotRoutes(hot: readonly string[], runners: ReadonlyMap<string, RouteRunner>, patterns: readonly string[]): AppMiddleware {
  const table: HotRoute[] = hot.map((pattern) => {
    const prefix = pattern.slice(0, pattern.lastIndexOf("/") + 1);
    const run = runners.get(`GET ${pattern}`);
    const last = pattern.slice(prefix.length);
    if (!run || !last.startsWith(":") || prefix.includes(":"))
      throw new Error(`hot route ${pattern}: must be a mounted GET route ending in its one parameter`);
    const siblings = new Set(
      patterns
        .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/") && !p.slice(prefix.length).startsWith(":"))
        .map((p) => p.slice(prefix.length).toLowerCase()),
    );
    return { prefix, param: last.slice(1), pattern, run, siblings };
  });
  return (ctx, next) => {
    if (ctx.method !== "GET") return next();
    const headers = ctx.req.headers;
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) return next();
    const path = ctx.path;
    for (const route of table) {
      if (!path.startsWith(route.prefix)) continue;
      const segment = path.slice(route.prefix.length);
      if (segment === "" || segment.includes("/") || segment.includes("%") || route.siblings.has(segment.toLowerCase())) break;
      return answer(ctx, route, segment);
    }
    return next();
  };
}

async function answer(ctx: AppContext, route: HotRoute, segment: string): Promise<void> {
  // What @koa/router sets for a match (the metrics label reads _matchedRoute).
  ctx.params = { [route.param]: segment };
  (ctx as AppContext & { _matchedRoute?: string })._matchedRoute = route.pattern;
  await route.run(ctx);
  tagAnswer(ctx);
}
