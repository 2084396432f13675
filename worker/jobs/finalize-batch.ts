import { hasOpenItems } from "../../db/queries/batch-items.js";
import { getBatchById, tryTransactionLock } from "../../db/queries/batches.js";
import { finish, markCompleting, TERMINAL_STATUSES } from "../../server/batches/lifecycle.js";
import type { BatchWorkerDeps } from "../batch-context.js";
import { writeArtifacts } from "../../server/batches/artifacts.js";

/**
 * `batch.finalize`, once no item is open: completing → completed | failed | cancelled — writes the
 * output, errors and receipt files, then `finish` (lifecycle.ts) releases what the batch didn't
 * spend and tells the webhook. Runs once per batch in effect: a terminal batch is left alone, and
 * every posting is keyed.
 */
export async function finalizeBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  // The last two work units to close may both enqueue this step; one writes the artifacts, the
  // other steps aside. The lock lives in a transaction, so a crash releases it with the connection
  // (and that job's retry takes over).
  await deps.db.transaction(async (lockTrx) => {
    if (!(await tryTransactionLock(lockTrx, `finalize:${batchId}`))) return;
    const batch = await getBatchById(deps.db, batchId);
    if (!batch || TERMINAL_STATUSES.has(batch.status)) return;
    if (await hasOpenItems(deps.db, batchId)) return; // a straggler: the last work unit to close enqueues finalize again
    // Conditional: a cancel (or an expiry) that lands after our read keeps its status, and finish() honours it.
    await markCompleting(deps.db, batchId);
    const t0 = performance.now();
    const artifacts = await writeArtifacts(deps, batch);
    const t1 = performance.now();
    await finish(deps, batchId, artifacts, null);
    deps.logger.debug({ batch_id: batchId, artifacts_ms: Math.round(t1 - t0), finish_ms: Math.round(performance.now() - t1) }, "finalized");
  });
}
