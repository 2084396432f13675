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

/** Factories for the errors raised in many places, so their wording stays the same. */
export const errors = {
  notFound: (what: string) => new AppError("not_found", `No such ${what}.`),
  unauthorized: (message = "A valid API key is required: send `Authorization: Bearer <key>`.") =>
    new AppError("unauthorized", message),
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
