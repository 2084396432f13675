import type Koa from "koa";
import { checkMcpOrigin } from "./mcp-origin.js";
import { AppError, isAppError } from "../errors.js";
import type { AppContext, AppDeps, AppState, RateLimiters } from "./context.js";
import { requireActor } from "./middleware/auth.js";
import { JSON_BODY_LIMIT } from "./middleware/json-body.js";

const MCP_PATHS = new Set(["/mcp", "/mcp/"]);

// The MCP SDK and our tools are loaded at the first /mcp request: ~30 MB of memory (code and heap)
// that an API process whose clients never speak MCP should not carry.
let mcpModules: Promise<[typeof import("@modelcontextprotocol/sdk/server/streamableHttp.js"), typeof import("../../mcp/in-process.js"), typeof import("../../mcp/server.js")]> | undefined;
const loadMcp = () =>
  (mcpModules ??= Promise.all([import("@modelcontextprotocol/sdk/server/streamableHttp.js"), import("../../mcp/in-process.js"), import("../../mcp/server.js")])
    .catch((err: unknown) => {
      mcpModules = undefined; // a failed load is tried again by the next request, not cached
      throw err;
    }));

/**
 * `/mcp`: the MCP tools over Streamable HTTP, stateless — every POST gets a fresh server and
 * transport bound to that request's Bearer key, so no process keeps session state and any API
 * process behind a load balancer can answer. Mounted before the JSON body parser: the transport
 * reads its own body (capped like every JSON body). GET (a server-to-client event stream) and
 * DELETE (ending a session) have nothing to do without sessions, so they answer 405, which
 * clients take as "no stream here". Browsers are held to the MCP specification's DNS-rebinding
 * rule first (mcp-origin.ts): a foreign Origin or Host gets 403 forbidden.
 */
export function mountMcp(app: Koa<AppState, AppContext>, deps: AppDeps, limiters: RateLimiters): void {
  app.use(async (ctx, next) => {
    if (!MCP_PATHS.has(ctx.path)) return next();
    // Before auth: a page on another origin (or rebinding its name to us) learns nothing, not even
    // whether a key is valid. Raw headers, not ctx.host: X-Forwarded-Host is the page's to set.
    const refused = checkMcpOrigin(deps.config, { origin: ctx.req.headers.origin, host: ctx.req.headers.host });
    if (refused) throw new AppError("forbidden", refused);
    const actor = await requireActor(ctx, deps, limiters).catch((err: unknown) => {
      // RFC 6750: a 401 names the scheme, so MCP clients know to send a Bearer key.
      if (isAppError(err) && err.code === "unauthorized") throw new AppError(err.code, err.message, err.details, { "WWW-Authenticate": 'Bearer realm="batchrouter"' });
      throw err;
    });
    if (ctx.method !== "POST") {
      ctx.status = 405;
      ctx.set("Allow", "POST");
      ctx.body = { jsonrpc: "2.0", error: { code: -32000, message: `${ctx.method} is not supported: this MCP endpoint is stateless; send JSON-RPC with POST.` }, id: null };
      return;
    }
    const [{ StreamableHTTPServerTransport }, { inProcessPlatform }, { buildMcpServer }] = await loadMcp();
    const platform = inProcessPlatform(deps, actor, { origin: `${ctx.protocol}://${ctx.host}`, requestId: ctx.state.requestId });
    const server = buildMcpServer(platform, {
      onInternalError: (err, tool) => ctx.state.log.error({ err, tool }, "mcp tool failed"),
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, maxRequestBodySize: JSON_BODY_LIMIT });
    ctx.res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    // From here the transport writes the response itself; headers already set (request id, rate
    // limits) go out with it.
    ctx.respond = false;
    try {
      await transport.handleRequest(ctx.req, ctx.res);
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
