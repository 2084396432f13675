import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { jsonPointer } from "../server/json-pointer.js";

/**
 * Malformed request params as JSON-RPC −32602 (Invalid params), in the API's words.
 *
 * The SDK (1.32.2, shared/protocol.js `setRequestHandler`) stores each request handler wrapped in
 * `schema.parse(request)`, so a request whose params break the method's schema (tools/call with
 * `arguments: "x"` or no `name`, initialize without `protocolVersion`) throws a ZodError, which the
 * protocol answers as −32603 Internal error with the zod issues dumped as text. Every method is
 * fixed here at once: after the server's handlers are registered, each is wrapped so a ZodError
 * from that parse becomes −32602 with `data.errors = [{path, message}]`, JSON-Pointer paths relative
 * to `params` — the same shape the HTTP API gives `details.errors`.
 */

export interface ParamError {
  path: string;
  message: string;
}

interface ZodLikeError {
  issues: { path: PropertyKey[]; message: string }[];
}

// Duck-typed: the SDK parses with zod's core (`$ZodError`, not the classic `ZodError` class), and
// its zod need not be our instance.
const isZodError = (e: unknown): e is ZodLikeError =>
  e instanceof Error && /^\$?ZodError$/.test(e.name) && Array.isArray((e as Partial<ZodLikeError>).issues);

/** The −32602 for zod issues over a whole request ({method, params}); paths are made relative to params. */
export function invalidParams(error: ZodLikeError): McpError {
  const errors: ParamError[] = error.issues.map((i) => ({
    path: jsonPointer(i.path[0] === "params" ? i.path.slice(1) : i.path),
    message: i.message,
  }));
  const first = errors[0];
  const message = first ? `Invalid params: ${first.path === "/" ? "" : `${first.path}: `}${first.message}` : "Invalid params.";
  const err = new McpError(ErrorCode.InvalidParams, message, { errors });
  // McpError prefixes "MCP error -32602: " to its message, and the protocol sends the message as
  // is; the code already says that, so the wire carries the sentence alone.
  err.message = message;
  return err;
}

type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;

/**
 * Wraps every request handler registered on `server` so far (call it once all are registered).
 * Only a ZodError thrown synchronously is converted: that is the SDK's parse of the request, which
 * runs before the handler; a ZodError rejected later comes from inside a handler, is ours, and
 * stays an internal error.
 */
export function answerInvalidParams(server: Server): void {
  // A private field of the SDK's Protocol (pinned at 1.32.2): if an upgrade renames it, every
  // MCP server fails to build and every MCP test fails, rather than this fix silently vanishing.
  const handlers = (server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map))
    throw new Error("MCP SDK internals changed: Protocol._requestHandlers is not a Map (mcp/invalid-params.ts)");
  for (const [method, handler] of handlers as Map<string, RequestHandler>) {
    handlers.set(method, (request: unknown, extra: unknown) => {
      try {
        return handler(request, extra);
      } catch (err) {
        if (isZodError(err)) throw invalidParams(err);
        throw err;
      }
    });
  }
}
