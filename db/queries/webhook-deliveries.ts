import type { Db } from "../connection.js";

/** What one delivery attempt needs of its row. */
export interface PendingDelivery {
  id: string;
  url: string;
  /** The exact bytes signed and sent, on every attempt. */
  body: string;
  status: string;
}

export async function insertDelivery(
  db: Db,
  row: { id: string; batch_id: string; org_id: string; type: string; url: string; body: string },
): Promise<void> {
  await db("webhook_deliveries").insert({ ...row, status: "pending" });
}

export async function getDelivery(db: Db, id: string): Promise<PendingDelivery | undefined> {
  return db("webhook_deliveries").where({ id }).first<PendingDelivery | undefined>("id", "url", "body", "status");
}

/**
 * Appends one attempt to the log and sets the outcome — only while the delivery is still pending,
 * so a duplicate run can't log onto a delivery that has already ended.
 */
export async function recordAttempt(db: Db, id: string, entry: object, status: "pending" | "delivered" | "failed"): Promise<void> {
  await db("webhook_deliveries")
    .where({ id, status: "pending" })
    .update({
      attempts: db.raw("attempts + 1"),
      attempt_log: db.raw("attempt_log || ?::jsonb", [JSON.stringify([entry])]),
      status,
      delivered_at: status === "delivered" ? db.fn.now() : null,
    });
}
