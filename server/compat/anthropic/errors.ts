import type { AppError } from "../../errors.js";

/** Requests under this prefix are answered in Anthropic's shapes, errors included. */
export const ANTHROPIC_COMPAT_PREFIX = "/v1/anthropic/";

// Anthropic's SDKs pick the exception class from the status; the type is what their callers branch on.
const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
};

/** Anthropic's error type for an HTTP status: anything else a client caused is an invalid request. */
export const anthropicErrorType = (status: number): string =>
  TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");

/**
 * Our error as Anthropic's envelope `{type: "error", error: {type, message}}`. Anthropic has no
 * field for the failing path, so the first field at fault is folded into the message.
 */
export function anthropicErrorBody(e: AppError) {
  const errs = e.details?.errors;
  const first = Array.isArray(errs) ? (errs[0] as { path?: unknown; message?: unknown } | undefined) : undefined;
  const where =
    typeof first?.path === "string" && first.path !== "" && !e.message.includes(first.path)
      ? ` (${first.path}: ${String(first.message)})`
      : "";
  return { type: "error" as const, error: { type: anthropicErrorType(e.status), message: `${e.message}${where}` } };
}
