import type { Db } from "../../db/connection.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { emitBatchEvent as emit } from "../../server/batches/events.js";
import type { WebhookEventType } from "../../server/webhooks/events.js";
import type { BatchWorkerDeps } from "./batch-context.js";

export async function emitBatchEvent(trx: Db, deps: Pick<BatchWorkerDeps, "boss" | "artifacts" | "config">, batch: BatchRow, type: string): Promise<void> {
  await emit(trx, deps, batch, type as WebhookEventType);
}

/** A `batch.progress` event, at most every 30 s per batch (the slot is claimed atomically). */
export async function noteProgress(trx: Db, deps: Pick<BatchWorkerDeps, "boss" | "artifacts" | "config">, batch: BatchRow): Promise<void> {
  await emit(trx, deps, batch, "batch.progress");
}
