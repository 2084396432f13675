import { Stream } from "node:stream";
import type { AppContext, AppMiddleware } from "../context.js";
import { weakEtag } from "../prepared-json.js";

/** A JSON value Koa would serialise (not bytes, a stream or text a handler set itself). */
function isJsonValue(body: unknown): body is object {
  return body !== null && typeof body === "object" && !Buffer.isBuffer(body) && !(body instanceof Stream) && !ArrayBuffer.isView(body);
}

/** RFC 9110 §13.1.2: If-None-Match holds `*` or a list of entity tags, compared weakly (`W/` ignored). */
export function noneMatch(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((t) => opaque(t) === opaque(etag));
}

/**
 * A weak ETag on every 200 JSON answer to a GET (a hash of the body), and 304 Not Modified without
 * a body when the client's If-None-Match already holds it — so a poller that sends it back gets a
 * tiny answer while nothing changed. Hashing the body makes it correct for any read, whatever the
 * body depends on; the body is serialised here once, which Koa would otherwise do (a body a route
 * serialised ahead, a PreparedJson, brings its ETag along). The 304 keeps the other headers
 * (X-Request-Id, and RateLimit-*, written as the request leaves): the request was still counted.
 */
export function etags(): AppMiddleware {
  return async (ctx, next) => {
    await next();
    tagAnswer(ctx);
  };
}

/** The ETag step on an answered request (etags() runs it after the router; hot routes after their handler). */
export function tagAnswer(ctx: AppContext): void {
  if ((ctx.method !== "GET" && ctx.method !== "HEAD") || ctx.status !== 200) return;
  let etag = ctx.state.preparedEtag;
  if (etag === undefined) {
    if (!isJsonValue(ctx.body)) return;
    const json = JSON.stringify(ctx.body);
    ctx.body = json; // the Content-Type stays application/json: Koa set it for the object
    etag = weakEtag(json);
  }
  if (!ctx.res.headersSent) ctx.res.setHeader("ETag", etag); // not ctx.set: it allocates per call
  // Not ctx.fresh: it ignores If-None-Match when the request says `Cache-Control: no-cache` (as
  // fetch() does for any conditional request), which is for caches, not for the origin server.
  const ifNoneMatch = ctx.req.headers["if-none-match"];
  if (ifNoneMatch && noneMatch(ifNoneMatch, etag)) {
    ctx.status = 304;
    ctx.body = null;
  }
}
