import type { AppError } from "../../errors.js";

/** Requests under this prefix are answered in OpenAI's shapes, errors included. */
export const OPENAI_COMPAT_PREFIX = "/v1/openai/";

const TYPE_BY_STATUS: Record<number, string> = {
  401: "authentication_error",
  402: "insufficient_quota",
  403: "permission_error",
  429: "rate_limit_error",
};

/** OpenAI's `param`: the dotted path of the first field at fault, as its SDKs show it. */
function paramOf(details: Record<string, unknown> | undefined): string | null {
  const errors = details?.errors;
  const first = Array.isArray(errors) ? (errors[0] as { path?: unknown } | undefined) : undefined;
  if (typeof first?.path !== "string" || first.path === "/" || first.path === "") return null;
  return first.path.replace(/^\//, "").replace(/\//g, ".");
}

/**
 * Our error as OpenAI's envelope `{error: {message, type, param, code}}`: OpenAI's SDKs pick the
 * exception class from the status and read these four fields. `code` keeps ours (clients branch on
 * it); a manifest's line errors are folded into the message, which is all an OpenAI client shows.
 */
export function openAiErrorBody(e: AppError) {
  const type = TYPE_BY_STATUS[e.status] ?? (e.status >= 500 ? "server_error" : "invalid_request_error");
  let message = e.message;
  const preflight = e.details?.preflight;
  if (Array.isArray(preflight) && preflight.length > 1) {
    const lines = (preflight as { line?: number; message: string }[]).slice(0, 10).map((p) => `line ${p.line ?? "?"}: ${p.message}`);
    message = `${message} Problems: ${lines.join("; ")}${preflight.length > 10 ? "; …" : ""}.`;
  }
  return { error: { message, type, param: paramOf(e.details), code: e.code } };
}
