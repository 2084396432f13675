import getRawBody from "raw-body";
import { AppError } from "../../errors.js";
import type { AppMiddleware } from "../context.js";

export const JSON_BODY_LIMIT = 10 * 1024 * 1024;

/**
 * Reads a JSON body up to 10 MB into ctx.state.body. An empty body leaves it undefined, so an
 * endpoint whose body is optional (agent-register) accepts none at all.
 */
export function jsonBody(): AppMiddleware {
  return async (ctx, next) => {
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
