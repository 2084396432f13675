import { createHash } from "node:crypto";
import type { Db } from "../db/connection.js";
import * as idem from "../db/queries/idempotency.js";
import { canonicalJson } from "./canonical-json.js";
import { fail, isAppError } from "./errors.js";

// Outcomes of a request that ran: replaying them is right. Validation, auth and rate-limit
// failures are not stored, so the client can fix the request and retry with the same key.
const STORED_ERROR_STATUSES = new Set([402, 404, 409, 422]);

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface IdempotentCall {
  db: Db;
  /** "<org>:<environment>", or "ip:<address>" before sign-up. */
  scope: string;
  key: string;
  fingerprint: string;
  requestId: string;
  /**
   * Fields (dotted paths) of the success body that are secrets shown once (a new API key): stored — and so
   * replayed — as null, so no secret ever sits in the idempotency store or reaches a second caller.
   */
  secretFields?: readonly string[];
}

/** The request's identity: method, path and body (canonical JSON, or the raw bytes' base64). */
export function requestFingerprint(method: string, path: string, body: string): string {
  return createHash("sha256").update(`${method} ${path}\n${body}`).digest("hex");
}

export const jsonFingerprint = (method: string, path: string, body: unknown) =>
  requestFingerprint(method, path, body === undefined ? "" : canonicalJson(body));

/**
 * Stripe's Idempotency-Key semantics around `run`, for the HTTP middleware and the /mcp tools
 * alike: the first response is kept 24 h and replayed for the same key and body; another body →
 * 409 idempotency_conflict; a call while the first still runs → 409 idempotency_key_in_use.
 */
export async function runIdempotent(
  call: IdempotentCall,
  run: () => Promise<StoredResponse>,
): Promise<{ replayed: boolean; response: StoredResponse }> {
  const { db, scope, key, fingerprint } = call;
  if (!(await idem.claim(db, scope, key, fingerprint))) {
    const row = await idem.find(db, scope, key, idem.IDEMPOTENCY_TTL_HOURS);
    if (row?.expired) await idem.removeExpired(db, scope, key, idem.IDEMPOTENCY_TTL_HOURS);
    // Expired, or released between our insert and read: claim it afresh.
    if (!row || row.expired) return runIdempotent(call, run);
    if (row.fingerprint !== fingerprint) {
      throw fail.idempotencyConflict("This Idempotency-Key was already used with a different request body.");
    }
    if (row.state === "done") {
      return {
        replayed: true,
        response: { status: row.response_status!, body: JSON.parse(row.response_body!), headers: row.response_headers ?? {} },
      };
    }
    if (!(await idem.takeOver(db, scope, key))) {
      throw fail.idempotencyKeyInUse(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        {},
        { "Retry-After": "1" },
      );
    }
  }
  let response: StoredResponse;
  try {
    response = await run();
  } catch (err) {
    if (isAppError(err) && STORED_ERROR_STATUSES.has(err.status)) {
      const body = { error: { code: err.code, message: err.message, details: err.details ?? {}, request_id: call.requestId } };
      await idem.complete(db, scope, key, err.status, JSON.stringify(body), {});
    } else {
      await idem.release(db, scope, key);
    }
    throw err;
  }
  if (response.status < 400)
    await idem.complete(
      db,
      scope,
      key,
      response.status,
      JSON.stringify(withoutSecrets(response.body ?? null, call.secretFields)),
      response.headers,
    );
  else await idem.release(db, scope, key);
  return { replayed: false, response };
}

/** The body to keep for replays: each secret field (a dotted path, "batch.webhook.secret") set to null. */
function withoutSecrets(body: unknown, fields: readonly string[] | undefined): unknown {
  let kept = body;
  for (const field of fields ?? []) kept = nulled(kept, field.split("."));
  return kept;
}

/** A copy of `value` with the field at `path` set to null; `value` itself when the path isn't there. */
function nulled(value: unknown, path: string[]): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const obj = value as Record<string, unknown>;
  if (!(head in obj)) return value;
  return { ...obj, [head]: rest.length === 0 ? null : nulled(obj[head], rest) };
}
