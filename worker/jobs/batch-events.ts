import type { Db } from "../../db/connection.js";
import { itemCounts, type BatchRow } from "../../db/queries/batches.js";
import { emitBatchEvent as emit, type WebhookEventType } from "../../server/webhooks/events.js";
import type { BatchWorkerDeps } from "./batch-context.js";

/** Sends `type` to the batch's webhook (if any) in the caller's transaction. */
export async function emitBatchEvent(trx: Db, deps: Pick<BatchWorkerDeps, "boss">, batch: BatchRow, type: string): Promise<void> {
  const counts = await itemCounts(trx, batch.id);
  await emit(trx, deps.boss, type as WebhookEventType, {
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

/** A `batch.progress` event, at most every 30 s per batch (the slot is claimed atomically). */
export async function noteProgress(trx: Db, deps: Pick<BatchWorkerDeps, "boss">, batch: BatchRow): Promise<void> {
  await emitBatchEvent(trx, deps, batch, "batch.progress");
}
