import type PgBoss from "pg-boss";
import type { Db } from "../../db/connection.js";
import { itemCounts, type BatchRow } from "../../db/queries/batches.js";
import { emitBatchEvent as emit, type WebhookEventType } from "../webhooks/events.js";

/** Sends `type` to the batch's webhook (if any), in the caller's transaction. */
export async function emitBatchEvent(trx: Db, boss: PgBoss, batch: BatchRow, type: WebhookEventType): Promise<void> {
  const counts = await itemCounts(trx, batch.id);
  await emit(trx, boss, type, {
    batch_id: batch.id,
    status: batch.status,
    items_total: batch.item_count,
    items_completed: counts.completed ?? 0,
    items_failed: (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.expired ?? 0),
    cost_micros: batch.settled_provider_micros + batch.settled_fee_micros,
    // Downloads are signed and short-lived, so events point at the stable API endpoint instead.
    output_file_url: batch.artifacts?.output ? `/v1/batches/${batch.id}/artifact-url?kind=output` : null,
    error_file_url: batch.artifacts?.errors ? `/v1/batches/${batch.id}/artifact-url?kind=errors` : null,
  });
}
