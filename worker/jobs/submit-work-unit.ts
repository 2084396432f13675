import { startItemsOfWorkUnit } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { unitItemsStarted } from "../../db/queries/submit-attempts.js";
import { getWorkUnit, updateWorkUnit, type WorkUnitRow } from "../../db/queries/work-units.js";
import { abandonUnsentUnit, isStopped } from "../../server/batches/lifecycle.js";
import { submitFailed } from "../../server/batches/unit-outcomes.js";
import { adapterForUnit, failureOf, pollDelayMs, submitRequest, type BatchWorkerDeps } from "../batch-context.js";

/**
 * Hands a work unit to its provider. A retryable refusal (429, 5xx, lane down) is retried with
 * backoff and, after a few, moves the items to the next rung of the ladder; a permanent one fails
 * the items with its code.
 */
export async function submitWorkUnit(deps: BatchWorkerDeps, workUnitId: string): Promise<void> {
  const wu = await getWorkUnit(deps.db, workUnitId);
  if (wu?.status !== "pending") return;
  const batch = await batchesQ.getBatchById(deps.db, wu.batch_id);
  if (!batch) return;
  if (isStopped(batch.status)) return abandonUnit(deps, wu);

  // A failed submit, or items an earlier run started (it died before recording), may mean the
  // provider already holds this unit's job.
  const resubmit = wu.submit_failures > 0 || (await unitItemsStarted(deps.db, wu.id));
  // Count this attempt on each item before the provider sees it (once: a re-run after a crash
  // finds them already processing).
  const items = await startItemsOfWorkUnit(deps.db, wu.id);
  if (items.length === 0) return;
  let unit: Awaited<ReturnType<typeof adapterForUnit>>;
  try {
    unit = await adapterForUnit(deps, wu, batch.environment);
  } catch (err) {
    // No adapter for this lane any more (a live provider's credentials were removed): the items
    // fail for good rather than wait — a live key's work never falls back to the simulator.
    return submitFailed(deps, wu, { ...failureOf(err), retryable: false });
  }
  const { lane, adapter } = unit;

  let ref: Awaited<ReturnType<typeof adapter.submit>>;
  try {
    ref = await adapter.submit({ ...submitRequest(wu, lane, items), resubmit });
  } catch (err) {
    return submitFailed(deps, wu, { ...failureOf(err), retryable: adapter.classify(err) === "retryable" });
  }
  const recorded = await deps.db.transaction(async (trx) => {
    // The batch row first, then the unit: the order cancel and expire lock in, so none deadlocks.
    const lockedBatch = await batchesQ.getBatchById(trx, wu.batch_id, "no key update");
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "pending") return false;
    if (!lockedBatch || isStopped(lockedBatch.status)) {
      await abandonUnsentUnit(trx, deps.jobs, wu);
      return false;
    }
    await updateWorkUnit(trx, wu.id, { status: "submitted", provider_ref: ref, submitted_at: trx.fn.now(), execution: adapter.execution });
    await batchesQ.moveBatchStatus(trx, wu.batch_id, ["dispatched", "pending"], "processing");
    await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + pollDelayMs(null)) });
    return true;
  });
  if (!recorded) {
    // The unit was cancelled (or expired) while we were submitting: nobody will collect this job,
    // so don't leave it running (and billing us) at the provider.
    await adapter.cancel(ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "cancel of an orphaned provider job failed"));
  }
}

/** A unit found pending after its batch stopped: closed as never sent (lifecycle.ts). */
async function abandonUnit(deps: BatchWorkerDeps, wu: WorkUnitRow): Promise<void> {
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, "no key update");
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status === "pending") await abandonUnsentUnit(trx, deps.jobs, wu);
  });
}
