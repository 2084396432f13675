import { ANTHROPIC_COMPAT_PREFIX, anthropicErrorBody } from "../../compat/anthropic/errors.js";
import { openAiErrorBody, OPENAI_COMPAT_PREFIX } from "../../compat/openai/errors.js";
import { type AppError, fail, isAppError } from "../../errors.js";
import type { AppMiddleware } from "../context.js";

/** Renders every failure in the contract's envelope; an unexpected error is logged and told as 500 without internals. */
export function errorEnvelope(): AppMiddleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw fail.notFound(`No route for ${ctx.method} ${ctx.path}.`);
      }
      if (ctx.status === 405 && ctx.body === undefined) {
        throw fail.notFound(`${ctx.method} is not supported on ${ctx.path}.`);
      }
    } catch (err) {
      const e = toAppError(err);
      if (e.status >= 500) ctx.state.log?.error({ err }, "request failed");
      ctx.status = e.status;
      for (const [k, v] of Object.entries(e.headers ?? {})) ctx.set(k, v);
      // The compatible surfaces answer in their provider's envelope, which its SDKs parse.
      ctx.body = ctx.path.startsWith(OPENAI_COMPAT_PREFIX)
        ? openAiErrorBody(e)
        : ctx.path.startsWith(ANTHROPIC_COMPAT_PREFIX)
          ? anthropicErrorBody(e)
          : { error: { code: e.code, message: e.message, details: e.details ?? {}, request_id: ctx.state.requestId } };
    }
  };
}

function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  // Errors thrown by body readers and Koa itself carry an HTTP status; map the ones a client causes.
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  if (status === 413) return fail.payloadTooLarge("The request body is too large.");
  if (status === 415) return fail.unsupportedMediaType("Send `Content-Type: application/json`.");
  if (status === 400) return fail.invalidRequest("The request could not be read.");
  return fail.internalError("Something went wrong on our side; the request id identifies it in our logs.");
}
