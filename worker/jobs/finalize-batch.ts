import * as batchesQ from "../../db/queries/batches.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { TERMINAL_STATUSES } from "../../server/batches/schemas.js";
import { closeReservation } from "../../server/batches/settlement.js";
import { OPEN_ITEM_STATUSES, type BatchWorkerDeps } from "./batch-context.js";
import { emitBatchEvent } from "./batch-events.js";
import { writeArtifacts } from "./write-artifacts.js";

/**
 * completing → completed | failed | cancelled: writes the output, errors and receipt files,
 * releases what the batch didn't spend, and tells the webhook. Runs once per batch in effect:
 * a terminal batch is left alone, and every posting is keyed.
 */
export async function finalizeBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  // The last two work units to close may both enqueue this step; one writes the artifacts, the
  // other steps aside. The lock lives in a transaction, so a crash releases it with the connection
  // (and that job's retry takes over).
  await deps.db.transaction(async (lockTrx) => {
    const { rows } = await lockTrx.raw("SELECT pg_try_advisory_xact_lock(hashtext(?)) AS ok", [`finalize:${batchId}`]);
    if (!rows[0]?.ok) return;
    const batch = await batchesQ.getBatchById(deps.db, batchId);
    if (!batch || TERMINAL_STATUSES.has(batch.status)) return;
    const open = await deps.db("batch_items").where({ batch_id: batchId }).whereIn("status", OPEN_ITEM_STATUSES).first(deps.db.raw("1 AS one"));
    if (open) return; // a straggler: the last work unit to close enqueues finalize again
    // Conditional: a cancel (or an expiry) that lands after our read keeps its status, and finish() honours it.
    await deps.db("batches").where({ id: batchId }).whereNotIn("status", ["cancelling", ...TERMINAL_STATUSES]).update({ status: "completing", updated_at: deps.db.fn.now() });
    const t0 = performance.now();
    const artifacts = await writeArtifacts(deps, batch);
    const t1 = performance.now();
    await finish(deps, batchId, artifacts, null);
    deps.logger.debug({ batch_id: batchId, artifacts_ms: Math.round(t1 - t0), finish_ms: Math.round(performance.now() - t1) }, "finalized");
  });
}

/** The terminal transition, in one transaction with the release (and the fee refund on expiry). */
export async function finish(deps: BatchWorkerDeps, batchId: string, artifacts: BatchRow["artifacts"], forced: "cancelled" | "expired" | null): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const batch = (await batchesQ.getBatchById(trx, batchId, true))!;
    if (TERMINAL_STATUSES.has(batch.status)) return;
    const counts = await batchesQ.itemCounts(trx, batchId);
    // The locked row decides, not what the caller read earlier: a finalize racing a cancel or an
    // expiry must not end the batch `completed` (nor skip the SLA fee refund).
    let status: string = forced ?? (batch.status === "cancelling" ? "cancelled" : batch.error?.code === "expired" ? "expired" : "completed");
    if (status === "completed" && (counts.completed ?? 0) === 0 && (counts.failed ?? 0) > 0) status = "failed";
    await closeReservation(trx, batch, status === "expired");
    const stamp = { completed: "completed_at", failed: "failed_at", cancelled: "cancelled_at", expired: "expired_at" }[status as "completed"];
    const patch: Record<string, unknown> = { status, artifacts };
    // A cancellation keeps the time it was asked for; the other endings are stamped now.
    if (!(status === "cancelled" && batch.cancelled_at)) patch[stamp] = trx.fn.now();
    if (status === "failed") patch.error = { code: "all_items_failed", message: "Every item failed; see the errors file." };
    await batchesQ.updateBatch(trx, batchId, patch);
    await emitBatchEvent(trx, deps, { ...batch, status, artifacts }, `batch.${status}`);
  });
}
