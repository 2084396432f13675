import type { Db } from "../../db/connection.js";
import * as batchesQ from "../../db/queries/batches.js";
import type { WorkUnitRow } from "../../db/queries/batches.js";
import { TERMINAL_STATUSES } from "../../server/batches/schemas.js";
import { MAX_ATTEMPTS, backoffMs } from "../providers/retry-policy.js";
import { ProviderError } from "../providers/types.js";
import { OPEN_ITEM_STATUSES, adapterForUnit, finalizeIfDone, pollDelayMs, submitRequest, type BatchWorkerDeps } from "./batch-context.js";
import { moveToFallback } from "./fallback.js";

/** Submits failing this often in a row hand the work unit down its fallback ladder. */
export const SUBMIT_FAILURES_BEFORE_FALLBACK = 3;

/**
 * Hands a work unit to its provider. A retryable refusal (429, 5xx, lane down) is retried with
 * backoff and, after a few, moves the items to the next rung of the ladder; a permanent one fails
 * the items with its code.
 */
export async function submitWorkUnit(deps: BatchWorkerDeps, workUnitId: string): Promise<void> {
  const wu = await batchesQ.getWorkUnit(deps.db, workUnitId);
  if (!wu || wu.status !== "pending") return;
  const batch = await batchesQ.getBatchById(deps.db, wu.batch_id);
  if (!batch) return;
  if (stopped(batch.status)) return abandonUnit(deps, wu);

  // Count this attempt on each item before the provider sees it (once: a re-run after a crash
  // finds them already processing).
  const items = await batchesQ.startItemsOfWorkUnit(deps.db, wu.id);
  if (items.length === 0) return;
  const { lane, adapter } = await adapterForUnit(deps, wu, batch.environment);

  let ref;
  try {
    ref = await adapter.submit(submitRequest(wu, lane, items));
  } catch (err) {
    return handleSubmitError(deps, wu, err, adapter.classify(err));
  }
  const recorded = await deps.db.transaction(async (trx) => {
    // The batch row first, then the unit: the order cancel and expire lock in, so none deadlocks.
    const lockedBatch = await batchesQ.getBatchById(trx, wu.batch_id, true);
    const locked = await batchesQ.getWorkUnit(trx, wu.id, true);
    if (!locked || locked.status !== "pending") return false;
    if (!lockedBatch || stopped(lockedBatch.status)) {
      await closeUnit(trx, deps, wu);
      return false;
    }
    await batchesQ.updateWorkUnit(trx, wu.id, { status: "submitted", provider_ref: ref, submitted_at: trx.fn.now(), execution: adapter.execution });
    await trx("batches").where({ id: wu.batch_id }).whereIn("status", ["dispatched", "pending"]).update({ status: "processing", updated_at: trx.fn.now() });
    await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + pollDelayMs(null)) });
    return true;
  });
  if (!recorded) {
    // The unit was cancelled (or expired) while we were submitting: nobody will collect this job,
    // so don't leave it running (and billing us) at the provider.
    await adapter.cancel(ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "cancel of an orphaned provider job failed"));
  }
}

const stopped = (status: string) => TERMINAL_STATUSES.has(status) || status === "cancelling";

/**
 * A unit still pending when its batch was cancelled or ended: its items never reached a provider,
 * so they close as cancelled here (whatever path let the unit slip past the cancellation), and the
 * batch can finish.
 */
async function abandonUnit(deps: BatchWorkerDeps, wu: WorkUnitRow): Promise<void> {
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, true);
    const locked = await batchesQ.getWorkUnit(trx, wu.id, true);
    if (locked?.status === "pending") await closeUnit(trx, deps, wu);
  });
}

async function closeUnit(trx: Db, deps: BatchWorkerDeps, wu: WorkUnitRow): Promise<void> {
  await trx("batch_items").where({ work_unit_id: wu.id }).whereIn("status", OPEN_ITEM_STATUSES)
    .update({ status: "cancelled", error: JSON.stringify({ code: "cancelled", message: "The batch was cancelled before this item reached a provider." }), finished_at: trx.fn.now() });
  await batchesQ.updateWorkUnit(trx, wu.id, { status: "cancelled", finished_at: trx.fn.now() });
  await finalizeIfDone(trx, deps, wu.batch_id);
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
    const locked = await batchesQ.getWorkUnit(trx, wu.id, true);
    if (!locked || locked.status !== "pending") return;
    const failures = locked.submit_failures + 1;
    await batchesQ.updateWorkUnit(trx, wu.id, { submit_failures: failures, last_error: error });
    if (verdict === "permanent") {
      await trx("batch_items").where({ work_unit_id: wu.id }).whereIn("status", ["processing", "queued"])
        .update({ status: "failed", error: JSON.stringify({ code: "provider_error", message: error.message, provider_status: error.provider_status }), finished_at: trx.fn.now() });
      await batchesQ.updateWorkUnit(trx, wu.id, { status: "failed", finished_at: trx.fn.now() });
      await finalizeIfDone(trx, deps, wu.batch_id);
      return;
    }
    if (failures >= SUBMIT_FAILURES_BEFORE_FALLBACK && locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, { reason: `submit failed ${failures} times (${error.code})`, itemStatuses: ["processing", "queued"] });
      return;
    }
    // The attempt never reached the provider: give it back, then try again later.
    await trx("batch_items").where({ work_unit_id: wu.id, status: "processing" }).update({ status: "queued", attempts: trx.raw("greatest(attempts - 1, 0)") });
    const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
    const delay = backoffMs(failures, { baseMs: deps.retryBaseMs, maxMs: 60_000, retryAfterMs });
    if (failures >= MAX_ATTEMPTS) {
      await trx("batch_items").where({ work_unit_id: wu.id }).whereIn("status", ["queued", "processing"])
        .update({ status: "failed", error: JSON.stringify({ code: error.code === "lane_down" ? "provider_error" : error.code, message: `gave up after ${failures} submits: ${error.message}` }), finished_at: trx.fn.now() });
      await batchesQ.updateWorkUnit(trx, wu.id, { status: "failed", finished_at: trx.fn.now() });
      await finalizeIfDone(trx, deps, wu.batch_id);
      return;
    }
    await batchesQ.addRouteEvent(trx, wu.batch_id, "retry", { work_unit_id: wu.id, lane_id: wu.lane_id, reason: error.code, after_ms: delay });
    await deps.jobs.send(trx, "submit", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + delay) });
  });
}
