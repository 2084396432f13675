import * as batchesQ from "../../db/queries/batches.js";
import type { BatchWorkerDeps } from "./batch-context.js";

/**
 * pending → queued → routing → dispatched: the work units were planned at create (from the quote
 * or a fresh route), so dispatch hands each one to its submit job. Idempotent: a batch past
 * `pending` is left alone.
 */
export async function dispatchBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const batch = await batchesQ.getBatchById(trx, batchId, true);
    if (!batch || batch.status !== "pending") return;
    const units = await trx("work_units").where({ batch_id: batchId, status: "pending" }).select("id", "lane_id", "item_count");
    for (const u of units) await deps.jobs.send(trx, "submit", { work_unit_id: u.id });
    await batchesQ.updateBatch(trx, batchId, { status: "dispatched", dispatched_at: trx.fn.now() });
    await batchesQ.addRouteEvent(trx, batchId, "dispatched", { work_units: units });
  });
}
