import { isUtf8 } from "node:buffer";
import getRawBody from "raw-body";
import { fail } from "../../errors.js";
import { jsonPointer } from "../../json-pointer.js";
import { unstorableJson } from "../../text-guard.js";
import type { AppMiddleware } from "../context.js";

export const JSON_BODY_LIMIT = 10 * 1024 * 1024;

/**
 * Routes that read their own body as it streams in (manifest uploads, up to 2 GB): this middleware
 * must leave the request untouched for them. Listed here because it runs before routing; each such
 * route also says `streamsBody: true`, and mountRoutes refuses to start if the two disagree.
 */
export const STREAMED_BODY_ROUTES: ReadonlySet<string> = new Set([
  "POST /v1/batches/input-manifests",
  "POST /v1/files",
  "POST /v1/openai/v1/files",
  "POST /v1/anthropic/v1/messages/batches",
]);

export const streamsOwnBody = (method: string, path: string): boolean =>
  STREAMED_BODY_ROUTES.has(`${method.toUpperCase()} ${path.length > 1 ? path.replace(/\/+$/, "") : path}`);

/**
 * Reads a JSON body up to 10 MB into ctx.state.body. An empty body leaves it undefined, so an
 * endpoint whose body is optional (agent-register) accepts none at all.
 */
export function jsonBody(): AppMiddleware {
  return async (ctx, next) => {
    const length = ctx.request.length;
    const hasBody = (length !== undefined && length > 0) || ctx.get("Transfer-Encoding") !== "";
    if (!hasBody) return next();
    checkBodyEncoding(ctx);
    if (streamsOwnBody(ctx.method, ctx.path)) return next();
    if (length !== undefined && length > JSON_BODY_LIMIT) {
      throw fail.payloadTooLarge(`JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`, { limit_bytes: JSON_BODY_LIMIT });
    }
    requireJsonType(ctx);
    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: JSON_BODY_LIMIT, length });
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type === "entity.too.large")
        throw fail.payloadTooLarge(`JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`, { limit_bytes: JSON_BODY_LIMIT });
      if (type === "request.size.invalid") throw fail.invalidRequest("The body is shorter or longer than its Content-Length.");
      throw fail.invalidRequest("The request body could not be read.");
    }
    ctx.state.rawBody = raw;
    // Decoding would silently turn invalid bytes into U+FFFD; the upload endpoints refuse them too.
    if (!isUtf8(raw)) throw fail.invalidJson("The body is not valid UTF-8.");
    const text = raw.toString("utf8");
    if (text.trim() === "") return next();
    try {
      ctx.state.body = JSON.parse(text);
    } catch (e) {
      throw fail.invalidJson(`The body is not valid JSON: ${(e as Error).message}`);
    }
    const bad = unstorableJson(text, ctx.state.body);
    if (bad) {
      const path = jsonPointer(bad.path);
      throw fail.invalidRequest(`Invalid body: ${path === "/" ? "" : `${path}: `}${bad.message}.`, {
        location: "body",
        errors: [{ path, message: bad.message }],
      });
    }
    return next();
  };
}

/** A JSON body must say so; shared with the routes that parse their JSON body as it streams. */
export function requireJsonType(ctx: Parameters<AppMiddleware>[0]): void {
  if (!ctx.is("application/json", "+json")) {
    throw fail.unsupportedMediaType("Send the body as JSON with `Content-Type: application/json`.");
  }
}

const UTF8 = new Set(["utf-8", "utf8"]);

/**
 * Bodies are UTF-8 as sent: a compressed body would be read as garbage JSON, and another charset
 * would be decoded wrongly, so both are refused up front (uploads included) rather than misread.
 */
function checkBodyEncoding(ctx: Parameters<AppMiddleware>[0]): void {
  const encoding = ctx.get("Content-Encoding").trim().toLowerCase();
  if (encoding !== "" && encoding !== "identity") {
    throw fail.unsupportedMediaType(`Content-Encoding "${encoding}" is not supported; send the body uncompressed.`, {
      content_encoding: encoding,
    });
  }
  const charset = ctx.request.charset?.toLowerCase() ?? "";
  if (charset !== "" && !UTF8.has(charset)) {
    throw fail.unsupportedMediaType(`charset "${charset}" is not supported; send UTF-8.`, { charset });
  }
}
