import type { AppDeps, McpHttpHandler } from "../server/deps.js";

// The MCP SDK and our tools are loaded at the first /mcp request: ~30 MB of memory (code and heap)
// that an API process whose clients never speak MCP should not carry.
let modules:
  | Promise<
      [typeof import("@modelcontextprotocol/sdk/server/streamableHttp.js"), typeof import("./in-process.js"), typeof import("./server.js")]
    >
  | undefined;
const load = () =>
  (modules ??= Promise.all([
    import("@modelcontextprotocol/sdk/server/streamableHttp.js"),
    import("./in-process.js"),
    import("./server.js"),
  ]).catch((err: unknown) => {
    modules = undefined; // a failed load is tried again by the next request, not cached
    throw err;
  }));

/**
 * The MCP tools over Streamable HTTP, stateless: every request gets a fresh server and transport
 * bound to that request's key, so no process keeps session state and any API process behind a
 * load balancer can answer. The transport reads the body and writes the response itself.
 */
export function createMcpHttpHandler(deps: AppDeps): McpHttpHandler {
  return async ({ req, res, actor, origin, requestId, log, maxBodyBytes }) => {
    const [{ StreamableHTTPServerTransport }, { inProcessPlatform }, { buildMcpServer }] = await load();
    const platform = inProcessPlatform(deps, actor, { origin, requestId });
    const server = buildMcpServer(platform, { onInternalError: (err, tool) => log.error({ err, tool }, "mcp tool failed") });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: maxBodyBytes,
    });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
}
