import type Koa from "koa";
import { checkMcpOrigin } from "./mcp-origin.js";
import { AppError, fail, isAppError } from "../errors.js";
import type { McpHttpHandler } from "../deps.js";
import type { AppContext, AppDeps, AppState, RateLimiters } from "./context.js";
import { requireActor } from "./middleware/auth.js";
import { JSON_BODY_LIMIT } from "./middleware/json-body.js";
import { writeRateLimitHeaders } from "./middleware/rate-limit.js";

const MCP_PATHS = new Set(["/mcp", "/mcp/"]);

/**
 * `/mcp`: the HTTP side of the MCP tools — the origin rule, the Bearer key, the rate limits — then
 * the injected `handler` (mcp/http-handler.ts) answers on the raw response. Mounted before the
 * JSON body parser: the transport reads its own body (capped like every JSON body). GET (a server-to-client event stream) and
 * DELETE (ending a session) have nothing to do without sessions, so they answer 405, which
 * clients take as "no stream here". Browsers are held to the MCP specification's DNS-rebinding
 * rule first (mcp-origin.ts): a foreign Origin or Host gets 403 forbidden.
 */
export function mountMcp(app: Koa<AppState, AppContext>, deps: AppDeps, limiters: RateLimiters, handler: McpHttpHandler | undefined): void {
  app.use(async (ctx, next) => {
    if (!MCP_PATHS.has(ctx.path) || !handler) return next();
    // Before auth: a page on another origin (or rebinding its name to us) learns nothing, not even
    // whether a key is valid. Raw headers, not ctx.host: X-Forwarded-Host is the page's to set.
    const refused = checkMcpOrigin(deps.config, { origin: ctx.req.headers.origin, host: ctx.req.headers.host });
    if (refused) throw fail.forbidden(refused);
    const actor = await requireActor(ctx, deps, limiters).catch((err: unknown) => {
      // RFC 6750: a 401 names the scheme, so MCP clients know to send a Bearer key.
      if (isAppError(err) && err.code === "unauthorized")
        throw new AppError(err.code, err.message, err.details, { "WWW-Authenticate": 'Bearer realm="batchrouter"' });
      throw err;
    });
    if (ctx.method !== "POST") {
      ctx.status = 405;
      ctx.set("Allow", "POST");
      ctx.body = {
        jsonrpc: "2.0",
        error: { code: -32000, message: `${ctx.method} is not supported: this MCP endpoint is stateless; send JSON-RPC with POST.` },
        id: null,
      };
      return;
    }
    // From here the handler writes the response itself; headers already set (request id, rate
    // limits) go out with it.
    writeRateLimitHeaders(ctx);
    ctx.respond = false;
    try {
      await handler({
        req: ctx.req,
        res: ctx.res,
        actor,
        origin: `${ctx.protocol}://${ctx.host}`,
        requestId: ctx.state.requestId,
        log: ctx.state.log,
        maxBodyBytes: JSON_BODY_LIMIT,
      });
    } catch (err) {
      if (ctx.res.headersSent) {
        ctx.state.log.error({ err }, "mcp request failed mid-response");
        return;
      }
      ctx.respond = true;
      throw err;
    }
  });
}
