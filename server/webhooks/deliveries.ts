import type { Db } from "../../db/connection.js";
import { page } from "../pagination.js";

/** One attempt as recorded in `webhook_deliveries.attempt_log` and shown to the customer. */
export interface AttemptLogEntry {
  /** When the attempt started (ISO 8601). */
  at: string;
  /** The receiver's HTTP status, when it answered. */
  status_code?: number;
  /** Why the attempt failed without an answer (timeout, connection refused, refused address…). */
  error?: string;
  /** Duration in milliseconds. */
  ms: number;
}

export interface WebhookDeliveryView {
  id: string;
  object: "webhook_delivery";
  type: string;
  url: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  attempt_log: AttemptLogEntry[];
  created_at: string;
  delivered_at: string | null;
}

export interface DeliveryList {
  object: "list";
  data: WebhookDeliveryView[];
  has_more: boolean;
  next_cursor: string | null;
}

interface DeliveryRow {
  id: string;
  type: string;
  url: string;
  status: WebhookDeliveryView["status"];
  attempts: number;
  attempt_log: AttemptLogEntry[];
  created_at: Date;
  delivered_at: Date | null;
}

export function presentDelivery(row: DeliveryRow): WebhookDeliveryView {
  return {
    id: row.id,
    object: "webhook_delivery",
    type: row.type,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    attempt_log: row.attempt_log,
    created_at: row.created_at.toISOString(),
    delivered_at: row.delivered_at?.toISOString() ?? null,
  };
}

/**
 * The delivery log of one batch for `GET /v1/batches/{id}/webhook-deliveries`, newest first and
 * paged like every list (`limit`, opaque `cursor` = the last id of the previous page): a long batch
 * sends a progress event every 30 s. Scoped to the org (and environment, when given) as well as the
 * batch, so a wrong batch id yields an empty list rather than another org's log; the caller still
 * checks the batch exists for a proper 404. The body and signatures are not shown.
 */
export async function listDeliveries(
  db: Db,
  orgId: string,
  environment: "live" | "test" | undefined,
  batchId: string,
  opts: { limit?: number; cursor?: string } = {},
): Promise<DeliveryList> {
  const limit = Math.min(Math.max(opts.limit ?? 20, 1), 100);
  const q = db("webhook_deliveries as d")
    .where({ "d.batch_id": batchId, "d.org_id": orgId })
    .select<DeliveryRow[]>("d.id", "d.type", "d.url", "d.status", "d.attempts", "d.attempt_log", "d.created_at", "d.delivered_at")
    // Event ids are ULIDs, so id order is creation order (and a stable cursor).
    .orderBy("d.id", "desc")
    .limit(limit + 1);
  if (environment) q.join("batches as b", "b.id", "d.batch_id").where("b.environment", environment);
  if (opts.cursor) q.where("d.id", "<", opts.cursor);
  return page(await q, limit, presentDelivery);
}
