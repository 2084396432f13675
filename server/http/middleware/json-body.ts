import getRawBody from "raw-body";
import { AppError } from "../../errors.js";
import type { AppMiddleware } from "../context.js";

export const JSON_BODY_LIMIT = 10 * 1024 * 1024;

/**
 * Routes that read their own body as it streams in (manifest uploads, up to 2 GB): this middleware
 * must leave the request untouched for them. Listed here because it runs before routing; each such
 * route also says `streamsBody: true`, and mountRoutes refuses to start if the two disagree.
 */
export const STREAMED_BODY_ROUTES: ReadonlySet<string> = new Set(["POST /v1/batches/input-manifests", "POST /v1/files"]);

export const streamsOwnBody = (method: string, path: string): boolean =>
  STREAMED_BODY_ROUTES.has(`${method.toUpperCase()} ${path.length > 1 ? path.replace(/\/+$/, "") : path}`);

/**
 * Reads a JSON body up to 10 MB into ctx.state.body. An empty body leaves it undefined, so an
 * endpoint whose body is optional (agent-register) accepts none at all.
 */
export function jsonBody(): AppMiddleware {
  return async (ctx, next) => {
    if (streamsOwnBody(ctx.method, ctx.path)) return next();
    const length = ctx.request.length;
    const hasBody = (length !== undefined && length > 0) || ctx.get("Transfer-Encoding") !== "";
    if (!hasBody) return next();
    if (length !== undefined && length > JSON_BODY_LIMIT) {
      throw new AppError("payload_too_large", `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`, { limit_bytes: JSON_BODY_LIMIT });
    }
    if (!ctx.is("application/json", "+json")) {
      throw new AppError("unsupported_media_type", "Send the body as JSON with `Content-Type: application/json`.");
    }
    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: JSON_BODY_LIMIT, length });
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type === "entity.too.large") throw new AppError("payload_too_large", `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`, { limit_bytes: JSON_BODY_LIMIT });
      if (type === "request.size.invalid") throw new AppError("invalid_request", "The body is shorter or longer than its Content-Length.");
      throw new AppError("invalid_request", "The request body could not be read.");
    }
    ctx.state.rawBody = raw;
    const text = raw.toString("utf8");
    if (text.trim() === "") return next();
    try {
      ctx.state.body = JSON.parse(text);
    } catch (e) {
      throw new AppError("invalid_json", `The body is not valid JSON: ${(e as Error).message}`);
    }
    return next();
  };
}
