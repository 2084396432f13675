import type { Db } from "../../../db/connection.js";
import { fail } from "../../errors.js";
import { jsonFingerprint, requestFingerprint, runIdempotent, type StoredResponse } from "../../idempotency.js";
import type { AppContext } from "../context.js";

export type IdempotencyMode = "required" | "optional";

function fingerprintOf(ctx: AppContext): string {
  if (ctx.state.body !== undefined) return jsonFingerprint(ctx.method, ctx.path, ctx.state.body);
  return requestFingerprint(ctx.method, ctx.path, ctx.state.rawBody?.toString("base64") ?? "");
}

/** The Idempotency-Key header around a route handler (semantics in server/idempotency.ts). */
export async function withIdempotency(
  ctx: AppContext,
  db: Db,
  mode: IdempotencyMode,
  run: () => Promise<void>,
  secretFields?: readonly string[],
): Promise<void> {
  const key = ctx.get("Idempotency-Key");
  if (!key) {
    if (mode === "required") throw fail.idempotencyKeyRequired("This endpoint requires an `Idempotency-Key` header (8–128 characters).");
    return run();
  }
  if (key.length < 8 || key.length > 128) {
    throw fail.idempotencyKeyInvalid("`Idempotency-Key` must be 8–128 characters.", { length: key.length });
  }
  const actor = ctx.state.actor;
  const scope = actor ? `${actor.org_id}:${actor.environment}` : `ip:${ctx.ip}`;
  const outcome = await runIdempotent(
    { db, scope, key, fingerprint: fingerprintOf(ctx), requestId: ctx.state.requestId, secretFields },
    async (): Promise<StoredResponse> => {
      await run();
      const location = ctx.response.get("Location");
      const headers: Record<string, string> = location ? { Location: location } : {};
      return { status: ctx.status, body: ctx.body ?? null, headers };
    },
  );
  if (outcome.replayed) {
    ctx.status = outcome.response.status;
    ctx.body = outcome.response.body;
    for (const [k, v] of Object.entries(outcome.response.headers)) ctx.set(k, v);
    ctx.set("Idempotent-Replayed", "true");
  }
}
