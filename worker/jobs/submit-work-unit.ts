import { startItemsOfWorkUnit, unstartItems } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { getWorkUnit, updateWorkUnit, type WorkUnitRow } from "../../db/queries/work-units.js";
import { abandonUnsentUnit, failUnit, isStopped } from "../../server/batches/lifecycle.js";
import { MAX_ATTEMPTS, backoffMs } from "../providers/retry-policy.js";
import { ProviderError } from "../providers/types.js";
import { adapterForUnit, pollDelayMs, submitRequest, type BatchWorkerDeps } from "../batch-context.js";
import { moveToFallback } from "../../server/batches/fallback.js";

/** Submits failing this often in a row hand the work unit down its fallback ladder. */
export const SUBMIT_FAILURES_BEFORE_FALLBACK = 3;

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
    return handleSubmitError(deps, wu, err, "permanent");
  }
  const { lane, adapter } = unit;

  let ref: Awaited<ReturnType<typeof adapter.submit>>;
  try {
    ref = await adapter.submit(submitRequest(wu, lane, items));
  } catch (err) {
    return handleSubmitError(deps, wu, err, adapter.classify(err));
  }
  const recorded = await deps.db.transaction(async (trx) => {
    // The batch row first, then the unit: the order cancel and expire lock in, so none deadlocks.
    const lockedBatch = await batchesQ.getBatchById(trx, wu.batch_id, true);
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
    await batchesQ.getBatchById(trx, wu.batch_id, true);
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status === "pending") await abandonUnsentUnit(trx, deps.jobs, wu);
  });
}

async function handleSubmitError(deps: BatchWorkerDeps, wu: WorkUnitRow, err: unknown, verdict: "retryable" | "permanent") {
  const error = {
    code: err instanceof ProviderError ? err.code : "provider_error",
    message: err instanceof Error ? err.message : String(err),
    provider_status: err instanceof ProviderError ? err.status : undefined,
  };
  deps.logger.warn({ work_unit_id: wu.id, lane_id: wu.lane_id, error: error.code, verdict }, "submit failed");
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, true); // lock order: batch, then unit
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "pending") return;
    const failures = locked.submit_failures + 1;
    await updateWorkUnit(trx, wu.id, { submit_failures: failures, last_error: error });
    if (verdict === "permanent") {
      await failUnit(trx, deps.jobs, wu, ["processing", "queued"], {
        code: "provider_error",
        message: error.message,
        provider_status: error.provider_status,
      });
      return;
    }
    if (failures >= SUBMIT_FAILURES_BEFORE_FALLBACK && locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, {
        reason: `submit failed ${failures} times (${error.code})`,
        itemStatuses: ["processing", "queued"],
      });
      return;
    }
    // The attempt never reached the provider: give it back, then try again later.
    await unstartItems(trx, wu.id);
    const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
    const delay = backoffMs(failures, { baseMs: deps.retryBaseMs, maxMs: 60_000, retryAfterMs });
    if (failures >= MAX_ATTEMPTS) {
      await failUnit(trx, deps.jobs, wu, ["queued", "processing"], {
        code: error.code === "lane_down" ? "provider_error" : error.code,
        message: `gave up after ${failures} submits: ${error.message}`,
      });
      return;
    }
    await batchesQ.addRouteEvent(trx, wu.batch_id, "retry", {
      work_unit_id: wu.id,
      lane_id: wu.lane_id,
      reason: error.code,
      after_ms: delay,
    });
    await deps.jobs.send(trx, "submit", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + delay) });
  });
}
