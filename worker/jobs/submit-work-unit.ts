import { startItemsOfWorkUnit } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { settleUnitIntents, submitJournal, unitItemsStarted } from "../../db/queries/submit-attempts.js";
import { getWorkUnit, updateWorkUnit, type WorkUnitRow } from "../../db/queries/work-units.js";
import { abandonUnsentUnit, isStopped } from "../../server/batches/lifecycle.js";
import { submitFailed } from "../../server/batches/unit-outcomes.js";
import { withRetries } from "../providers/retry-policy.js";
import type { ProviderAdapter, SubmitRequest } from "../providers/types.js";
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
  if (isStopped(batch.status)) {
    await abandonUnit(deps, wu);
    // An earlier submit may have left a job at the provider unrecorded: stop it too.
    if (wu.submit_failures > 0 || (await unitItemsStarted(deps.db, wu.id))) await stopLeftovers(deps, wu, batch.environment);
    return;
  }

  // Count this attempt on each item before the provider sees it (once: a re-run after a crash
  // finds them already processing).
  const { items, startedBefore } = await startItemsOfWorkUnit(deps.db, wu.id);
  if (items.length === 0) return;
  // A failed submit, or items an earlier run started (it died before recording), may mean the
  // provider already holds this unit's job.
  const resubmit = wu.submit_failures > 0 || startedBefore;
  let unit: Awaited<ReturnType<typeof adapterForUnit>>;
  try {
    unit = await adapterForUnit(deps, wu, batch.environment);
  } catch (err) {
    // No adapter for this lane any more (a live provider's credentials were removed): the items
    // fail for good rather than wait — a live key's work never falls back to the simulator.
    return submitFailed(deps, wu, { ...failureOf(err), retryable: false });
  }
  const { lane, adapter } = unit;
  // The journal lets an adapter whose provider keeps no tag of ours (Anthropic) note each create
  // before sending it, so a lost answer can be found again (anthropic-batch-adopt.ts).
  const req: SubmitRequest = { ...submitRequest(wu, lane, items), resubmit, journal: submitJournal(deps.db, wu.id) };

  let ref: Awaited<ReturnType<typeof adapter.submit>>;
  try {
    ref = await adapter.submit(req);
  } catch (err) {
    await submitFailed(deps, wu, { ...failureOf(err), retryable: adapter.classify(err) === "retryable" });
    // The last allowed submit failed (or a permanent refusal): the items failed or moved down the
    // ladder, and no submit will come to adopt what this one, or an earlier one, may have made.
    const after = await getWorkUnit(deps.db, wu.id);
    if (after && (after.status === "failed" || after.status === "cancelled")) await abandonSubmits(deps, adapter, req);
    return;
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
    // The job is recorded: nothing of this unit is looked for at the provider again.
    await settleUnitIntents(trx, wu.id);
    await batchesQ.moveBatchStatus(trx, wu.batch_id, ["dispatched", "pending"], "processing");
    await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + pollDelayMs(null)) });
    return true;
  });
  if (!recorded) {
    // The unit was cancelled (or expired) while we were submitting: nobody will collect this job,
    // so don't leave it running (and billing us) at the provider.
    await adapter.cancel(ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "cancel of an orphaned provider job failed"));
    await abandonSubmits(deps, adapter, req);
  }
}

/** Stops what the unit's submits may have left at the provider; best effort, a few tries, then a warning. */
async function abandonSubmits(deps: BatchWorkerDeps, adapter: ProviderAdapter, req: SubmitRequest): Promise<void> {
  const abandon = adapter.abandonSubmits?.bind(adapter);
  if (!abandon) return;
  await withRetries(() => abandon(req), { attempts: 4, baseMs: deps.retryBaseMs }).catch((err: unknown) =>
    deps.logger.warn({ err, work_unit_id: req.work_unit_id }, "stopping a given-up unit's provider jobs failed"),
  );
}

/** abandonSubmits for a unit closed before its items were read again (its batch stopped). */
async function stopLeftovers(deps: BatchWorkerDeps, wu: WorkUnitRow, environment: "live" | "test"): Promise<void> {
  const unit = await adapterForUnit(deps, wu, environment).catch(() => undefined);
  if (!unit) return;
  await abandonSubmits(deps, unit.adapter, { ...submitRequest(wu, unit.lane, []), journal: submitJournal(deps.db, wu.id) });
}

/** A unit found pending after its batch stopped: closed as never sent (lifecycle.ts). */
async function abandonUnit(deps: BatchWorkerDeps, wu: WorkUnitRow): Promise<void> {
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, "no key update");
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status === "pending") await abandonUnsentUnit(trx, deps.jobs, wu);
  });
}
