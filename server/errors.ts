/** The one error vocabulary of the API (spec/api.md, "Error codes"). */
export type ErrorCode =
  | "invalid_request"
  | "invalid_json"
  | "preflight_failed"
  | "idempotency_key_required"
  | "idempotency_key_invalid"
  | "unauthorized"
  | "insufficient_credits"
  | "forbidden"
  | "insufficient_scope"
  | "email_not_verified"
  | "not_found"
  | "idempotency_conflict"
  | "idempotency_key_in_use"
  | "invalid_state"
  | "quote_expired"
  | "quote_mismatch"
  | "results_not_ready"
  | "payload_too_large"
  | "unsupported_media_type"
  | "no_eligible_lane"
  | "rate_limited"
  | "internal_error"
  | "service_unavailable"
  | "feature_unavailable";

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  preflight_failed: 400,
  idempotency_key_required: 400,
  idempotency_key_invalid: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  forbidden: 403,
  insufficient_scope: 403,
  email_not_verified: 403,
  not_found: 404,
  idempotency_conflict: 409,
  idempotency_key_in_use: 409,
  invalid_state: 409,
  quote_expired: 409,
  quote_mismatch: 409,
  results_not_ready: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  no_eligible_lane: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  feature_unavailable: 503,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
    this.status = STATUS[code];
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
const camel = (code: string) => code.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
type Factory = (message: string, details?: Record<string, unknown>, headers?: Record<string, string>) => AppError;

/**
 * One factory per error code (`fail.invalidState(message, details)` for `invalid_state`), so a raise
 * names its code once, typed: the status always comes from the table above, never a call site.
 */
export const fail = Object.fromEntries(
  (Object.keys(STATUS) as ErrorCode[]).map((code) => [
    camel(code),
    ((message, details, headers) => new AppError(code, message, details, headers)) as Factory,
  ]),
) as { readonly [C in ErrorCode as Camel<C>]: Factory };

/** Factories for the errors raised in many places, so their wording stays the same. */
export const errors = {
  notFound: (what: string) => new AppError("not_found", `No such ${what}.`),
  unauthorized: (message = "A valid API key is required: send `Authorization: Bearer <key>`.") => new AppError("unauthorized", message),
  insufficientScope: (scope: string) =>
    new AppError("insufficient_scope", `This API key lacks the \`${scope}\` scope.`, { required_scope: scope }),
  invalidRequest: (message: string, errs: { path: string; message: string }[] = []) =>
    new AppError("invalid_request", message, { errors: errs }),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError(
      "rate_limited",
      `Too many requests; retry after ${retryAfterSeconds} s.`,
      { retry_after_seconds: retryAfterSeconds },
      { "Retry-After": String(retryAfterSeconds) },
    ),
};
