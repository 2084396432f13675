import type { Db } from "../../db/connection.js";
import { getDelivery, recordAttempt } from "../../db/queries/webhook-deliveries.js";
import { decrypt, deriveKey } from "../../server/crypto.js";
import type { PayloadOf } from "../../server/jobs/contracts.js";
import type { Logger } from "../../server/logger.js";
import type { AttemptLogEntry } from "../../server/webhooks/deliveries.js";
import { postPinned, type WebhookPost } from "../../server/webhooks/sender.js";
import { signPayload } from "../../server/webhooks/signing.js";
import { resolveAndCheck, WebhookRefusedError, type Resolver } from "../../server/webhooks/url-guard.js";

export const USER_AGENT = "BatchRouter-Webhooks/1";
/** The receiver must answer within this (api.md §6). */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface DeliverWebhookDeps {
  db: Db;
  /** The platform secret; webhook secrets are sealed under deriveKey(secret, "webhook-secret"). */
  secret: Buffer;
  allowPrivate: boolean;
  /** Replaces the HTTP sender (default: node:http(s) pinned to the checked address). */
  post?: WebhookPost;
  /** Replaces DNS resolution (default: the OS resolver). */
  resolve?: Resolver;
  timeoutMs?: number;
  logger?: Logger;
}

/** What one attempt did. "skipped": the delivery was already delivered or failed (a re-run). */
export type DeliveryOutcome = "delivered" | "failed" | "skipped";

/** A failed attempt that pg-boss should retry; thrown so the job fails and backs off. */
export class WebhookAttemptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookAttemptError";
  }
}

/**
 * One delivery attempt. Idempotent: a delivery already delivered or failed is left alone. Records
 * every attempt in `attempt_log`; throws WebhookAttemptError when another attempt should follow,
 * marks the delivery `failed` on the last attempt or when the target is refused (a private
 * address won't become public by retrying), and `delivered` on a 2xx.
 */
export async function deliverWebhook(
  deps: DeliverWebhookDeps,
  payload: PayloadOf<"webhook">,
  opts: { lastAttempt: boolean } = { lastAttempt: false },
): Promise<DeliveryOutcome> {
  const row = await getDelivery(deps.db, payload.delivery_id);
  if (row?.status !== "pending") return "skipped";

  const startedAt = new Date();
  let statusCode: number | undefined;
  let error: string | undefined;
  let permanent = false;
  try {
    let secret: string;
    try {
      secret = decrypt(deriveKey(deps.secret, "webhook-secret"), payload.secret_sealed);
    } catch {
      // The platform secret changed (or differs between processes): no retry can fix that.
      permanent = true;
      throw new Error("the signing secret could not be unsealed on our side");
    }
    const target = await resolveAndCheck(row.url, { allowPrivate: deps.allowPrivate, resolve: deps.resolve });
    const headers = {
      ...signPayload(row.body, secret, row.id, Math.floor(Date.now() / 1000)),
      "Content-Type": "application/json",
      "User-Agent": USER_AGENT,
    };
    const res = await (deps.post ?? postPinned)(target, { headers, body: row.body, timeoutMs: deps.timeoutMs ?? DELIVERY_TIMEOUT_MS });
    statusCode = res.status;
  } catch (e) {
    if (e instanceof WebhookRefusedError) permanent = true;
    error = e instanceof Error ? e.message : String(e);
  }

  const ok = statusCode !== undefined && statusCode >= 200 && statusCode < 300;
  const entry: AttemptLogEntry = {
    at: startedAt.toISOString(),
    ...(statusCode !== undefined ? { status_code: statusCode } : {}),
    ...(error !== undefined ? { error } : {}),
    ms: Date.now() - startedAt.getTime(),
  };
  const status = ok ? "delivered" : permanent || opts.lastAttempt ? "failed" : "pending";
  await recordAttempt(deps.db, row.id, entry, status);

  const what = statusCode !== undefined ? `answered ${statusCode}` : error;
  if (ok) {
    deps.logger?.info({ delivery_id: row.id, status_code: statusCode, ms: entry.ms }, "webhook delivered");
    return "delivered";
  }
  if (status === "failed") {
    deps.logger?.warn({ delivery_id: row.id, status_code: statusCode, error, permanent }, "webhook delivery failed for good");
    return "failed";
  }
  throw new WebhookAttemptError(`webhook ${row.id} ${what}; will retry`);
}
