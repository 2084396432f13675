import type { Db } from "../../db/connection.js";
import { OPEN_ITEM_STATUSES, endItems, hasOpenItems, type ItemStatus } from "../../db/queries/batch-items.js";
import { getItemTally } from "../../db/queries/batch-view.js";
import * as batchesQ from "../../db/queries/batches.js";
import { BATCH_STATUSES, type BatchRow, type BatchStatus } from "../../db/queries/batches.js";
import { closeWorkUnits, endWorkUnit, workUnitsInStatus, type WorkUnitRow } from "../../db/queries/work-units.js";
import { fail } from "../errors.js";
import type { JobSender } from "../jobs/sender.js";
import { countItems } from "../metrics/process-metrics.js";
import { emitBatchEvent, type EventDeps } from "./events.js";
import { closeReservation } from "./settlement.js";
import { TERMINAL_STATUSES } from "./statuses.js";

/**
 * The states of a batch and the transitions between them, in one place: create (create.ts) writes
 * `pending`; dispatch moves it through `queued → routing → dispatched`; the first submit makes it
 * `processing`; finalize `completing`; `finish` ends it `completed | failed | cancelled | expired`.
 * A cancel makes it `cancelling` first, an expiry `completing`. Worker handlers load, call these,
 * and hand work to the adapters; every transition here runs in the caller's transaction with the
 * batch row locked first (the one lock order: batch, then unit), so none deadlocks with another.
 */

export { BATCH_STATUSES, OPEN_ITEM_STATUSES, type BatchStatus, type ItemStatus };

export { TERMINAL_STATUSES };
export const TERMINAL_LIST: readonly BatchStatus[] = [...TERMINAL_STATUSES];

/** Ended, or on its way to `cancelled`: nothing new may start for it. */
export const isStopped = (status: BatchStatus): boolean => TERMINAL_STATUSES.has(status) || status === "cancelling";

/** Statuses before dispatch has sent the work units out (its own job then drives the batch on). */
export const BEFORE_DISPATCH: readonly BatchStatus[] = ["pending", "queued", "routing"];

/** Item statuses reported as a failed result (cancelled and expired keep their own error code). */
export const FAILED_RESULT_STATUSES: readonly ItemStatus[] = ["failed", "cancelled", "expired"];
export const RESULT_STATUSES: readonly ItemStatus[] = ["completed", ...FAILED_RESULT_STATUSES];

/** The error of an item closed before any provider saw it, because its batch was cancelled. */
export const CANCELLED_BEFORE_PROVIDER = {
  code: "cancelled",
  message: "The batch was cancelled before this item reached a provider.",
} as const;
const EXPIRED_ITEM = { code: "expired", message: "The batch reached its SLA deadline before this item finished." } as const;

/**
 * POST /cancel: items that never reached a provider are cancelled (and released) at once — those of
 * units still `pending`, even ones a submit in flight has just marked `processing` (that submit finds
 * its unit cancelled and records nothing; left `processing`, they would hold the batch in
 * `cancelling` for ever). Units at a provider are stopped by the `cancel` job; what they finished
 * meanwhile is still collected and billed. A terminal batch → 409 invalid_state.
 */
export async function requestCancel(trx: Db, jobs: JobSender, batchId: string, byKeyId: string): Promise<void> {
  const locked = (await batchesQ.getBatchById(trx, batchId, true))!;
  if (TERMINAL_STATUSES.has(locked.status)) {
    throw fail.invalidState(`Batch ${batchId} is already ${locked.status}.`, { status: locked.status });
  }
  if (locked.status === "cancelling") return;
  await endItems(trx, { batch_id: batchId, pending_units_only: true }, OPEN_ITEM_STATUSES, "cancelled", CANCELLED_BEFORE_PROVIDER);
  await closeWorkUnits(trx, batchId, ["pending"], "cancelled");
  await batchesQ.updateBatch(trx, batchId, { status: "cancelling", cancelled_at: trx.fn.now() });
  await batchesQ.addRouteEvent(trx, batchId, "cancelled", { by: byKeyId });
  await jobs.send(trx, "cancel", { batch_id: batchId });
}

/**
 * The SLA deadline passed first: every open item is marked expired (finished ones stay, and stay
 * billed), every unit not yet collected is closed, and the batch goes to `completing` with the
 * `expired` error that `finish` turns into the fee refund. Returns the units that were at a
 * provider, to be stopped there; empty when the batch had already ended.
 */
export async function expireOpenWork(trx: Db, batchId: string): Promise<WorkUnitRow[]> {
  const locked = (await batchesQ.getBatchById(trx, batchId, true))!;
  if (TERMINAL_STATUSES.has(locked.status)) return [];
  const atProvider = await workUnitsInStatus(trx, batchId, ["submitted"]);
  await endItems(trx, { batch_id: batchId }, OPEN_ITEM_STATUSES, "expired", EXPIRED_ITEM);
  await closeWorkUnits(trx, batchId, ["pending", "submitted"], "cancelled");
  await batchesQ.addRouteEvent(trx, batchId, "expired", { sla_deadline: locked.sla_deadline.toISOString() });
  await batchesQ.updateBatch(trx, batchId, {
    status: "completing",
    error: {
      code: "expired",
      message:
        "The SLA deadline passed before every item finished; finished items are kept, the rest released and the service fee refunded.",
    },
  });
  return atProvider;
}

/** Enqueues the finalize step once no item of the batch is still open (in the caller's transaction). */
export async function finalizeIfDone(trx: Db, jobs: JobSender, batchId: string): Promise<boolean> {
  if (await hasOpenItems(trx, batchId)) return false;
  await jobs.send(trx, "finalize", { batch_id: batchId });
  return true;
}

/**
 * A unit still pending when its batch stopped: its items never reached a provider, so they close
 * as cancelled (whatever path let the unit slip past the cancellation), and the batch can finish.
 */
export async function abandonUnsentUnit(trx: Db, jobs: JobSender, wu: WorkUnitRow): Promise<void> {
  await endItems(trx, { work_unit_id: wu.id }, OPEN_ITEM_STATUSES, "cancelled", CANCELLED_BEFORE_PROVIDER);
  await endWorkUnit(trx, wu.id, "cancelled");
  await finalizeIfDone(trx, jobs, wu.batch_id);
}

/** Fails a unit for good: its items in `from` end failed with `error`, and the batch may finish. */
export async function failUnit(
  trx: Db,
  jobs: JobSender,
  wu: WorkUnitRow,
  from: readonly ItemStatus[],
  error: Record<string, unknown>,
): Promise<void> {
  countItems(wu.lane_id, "failed", await endItems(trx, { work_unit_id: wu.id }, from, "failed", error), trx);
  await endWorkUnit(trx, wu.id, "failed");
  await finalizeIfDone(trx, jobs, wu.batch_id);
}

/** Every status from which finalize may move a batch to `completing` (a cancel or an expiry keeps its own). */
const COMPLETABLE = BATCH_STATUSES.filter((s) => s !== "cancelling" && !TERMINAL_STATUSES.has(s));

/** Finalize is writing the result files; false when a cancel or an expiry got there first. */
export const markCompleting = (db: Db, batchId: string) => batchesQ.moveBatchStatus(db, batchId, COMPLETABLE, "completing");

/**
 * The terminal transition, in one transaction with the release of what the batch didn't spend
 * (and the fee refund on expiry), and the event to its webhook. The locked row decides, not what
 * the caller read earlier: a finalize racing a cancel or an expiry must not end the batch
 * `completed` (nor skip the SLA fee refund). A terminal batch is left alone, and every posting is
 * keyed, so running it twice changes nothing.
 */
export async function finish(
  deps: EventDeps & { db: Db },
  batchId: string,
  artifacts: BatchRow["artifacts"],
  forced: "cancelled" | "expired" | null,
): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const batch = (await batchesQ.getBatchById(trx, batchId, true))!;
    if (TERMINAL_STATUSES.has(batch.status)) return;
    // Counted once more as it ends, and kept: its items don't change from here on, so no read of
    // the batch need count them again (migration 0020). Not kept if any is somehow still open.
    const tally = await getItemTally(trx, batchId, { withTokens: true });
    const counts = tally.counts;
    let status: "completed" | "failed" | "cancelled" | "expired" =
      forced ?? (batch.status === "cancelling" ? "cancelled" : batch.error?.code === "expired" ? "expired" : "completed");
    if (status === "completed" && (counts.completed ?? 0) === 0 && (counts.failed ?? 0) > 0) status = "failed";
    await closeReservation(trx, batch, status === "expired");
    const stamp = { completed: "completed_at", failed: "failed_at", cancelled: "cancelled_at", expired: "expired_at" }[status];
    const settled = OPEN_ITEM_STATUSES.every((open) => !counts[open]);
    const patch: Record<string, unknown> = { status, artifacts, ...(settled ? { final_tally: JSON.stringify(tally) } : {}) };
    // A cancellation keeps the time it was asked for; the other endings are stamped now.
    if (!(status === "cancelled" && batch.cancelled_at)) patch[stamp] = trx.fn.now();
    if (status === "failed") patch.error = { code: "all_items_failed", message: "Every item failed; see the errors file." };
    await batchesQ.updateBatch(trx, batchId, patch);
    await emitBatchEvent(trx, deps, { ...batch, status, artifacts }, `batch.${status}`);
  });
}

/**
 * A `validating` batch that can't go on (its manifest fails validation, nothing can serve it, the
 * balance can't cover it): it ends `failed` with the error a synchronous create would have
 * answered, and whatever was reserved at create is released — in one transaction, once.
 */
export async function failPreparation(
  deps: EventDeps & { db: Db },
  batchId: string,
  error: { code: string; message: string; details?: Record<string, unknown> },
): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const batch = (await batchesQ.getBatchById(trx, batchId, true))!;
    if (batch.status !== "validating") return;
    await closeReservation(trx, batch, false);
    const failed = { status: "failed" as const, failed_at: trx.fn.now(), error, pending_request: null };
    await batchesQ.updateBatch(trx, batchId, failed);
    await batchesQ.addRouteEvent(trx, batchId, "failed", { code: error.code });
    await emitBatchEvent(trx, deps, { ...batch, status: "failed", error }, "batch.failed");
  });
}
