import { createHash } from "node:crypto";
import type { Db } from "../../../db/connection.js";
import * as idem from "../../../db/queries/idempotency.js";
import { IDEMPOTENCY_TTL_HOURS } from "../../../db/queries/idempotency.js";
import { canonicalJson } from "../../canonical-json.js";
import { AppError, isAppError } from "../../errors.js";
import type { AppContext } from "../context.js";


export type IdempotencyMode = "required" | "optional";

// Outcomes of a request that ran: replaying them is right. Validation, auth and rate-limit
// failures are not stored, so the client can fix the request and retry with the same key.
const STORED_ERROR_STATUSES = new Set([402, 404, 409, 422]);

function fingerprintOf(ctx: AppContext): string {
  const body = ctx.state.body !== undefined ? canonicalJson(ctx.state.body) : (ctx.state.rawBody?.toString("base64") ?? "");
  return createHash("sha256").update(`${ctx.method} ${ctx.path}\n${body}`).digest("hex");
}

/**
 * Stripe's Idempotency-Key semantics around `run`: the first request's response is kept 24 h and
 * replayed for the same key and body; another body → 409 idempotency_conflict; a request while
 * the first still runs → 409 idempotency_key_in_use. Keys are scoped to the org and environment.
 */
export async function withIdempotency(ctx: AppContext, db: Db, mode: IdempotencyMode, run: () => Promise<void>): Promise<void> {
  const key = ctx.get("Idempotency-Key");
  if (!key) {
    if (mode === "required") throw new AppError("idempotency_key_required", "This endpoint requires an `Idempotency-Key` header (8–128 characters).");
    return run();
  }
  if (key.length < 8 || key.length > 128) {
    throw new AppError("idempotency_key_invalid", "`Idempotency-Key` must be 8–128 characters.", { length: key.length });
  }
  const actor = ctx.state.actor;
  const scope = actor ? `${actor.org_id}:${actor.environment}` : `ip:${ctx.ip}`;
  const fingerprint = fingerprintOf(ctx);

  if (!(await idem.claim(db, scope, key, fingerprint))) {
    const row = await idem.find(db, scope, key, IDEMPOTENCY_TTL_HOURS);
    if (row?.expired) {
      await idem.removeExpired(db, scope, key, IDEMPOTENCY_TTL_HOURS);
      return withIdempotency(ctx, db, mode, run);
    }
    if (!row) return withIdempotency(ctx, db, mode, run); // released between our insert and read
    if (row.fingerprint !== fingerprint) {
      throw new AppError("idempotency_conflict", "This Idempotency-Key was already used with a different request body.");
    }
    if (row.state === "done") {
      ctx.status = row.response_status!;
      ctx.body = JSON.parse(row.response_body!);
      for (const [k, v] of Object.entries(row.response_headers ?? {})) ctx.set(k, v);
      ctx.set("Idempotent-Replayed", "true");
      return;
    }
    if (!(await idem.takeOver(db, scope, key))) {
      throw new AppError("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed; retry shortly.", {}, { "Retry-After": "1" });
    }
  }

  try {
    await run();
  } catch (err) {
    if (isAppError(err) && STORED_ERROR_STATUSES.has(err.status)) {
      const body = { error: { code: err.code, message: err.message, details: err.details ?? {}, request_id: ctx.state.requestId } };
      await idem.complete(db, scope, key, err.status, JSON.stringify(body), {});
    } else {
      await idem.release(db, scope, key);
    }
    throw err;
  }
  if (ctx.status < 400) {
    const location = ctx.response.get("Location");
    await idem.complete(db, scope, key, ctx.status, JSON.stringify(ctx.body ?? null), location ? { Location: location } : {});
  } else {
    await idem.release(db, scope, key);
  }
}
