import type { Db } from "../../db/connection.js";
import { endItems, unitItems, unstartItems } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { endWorkUnit, getWorkUnit, updateWorkUnit, type WorkUnitRow } from "../../db/queries/work-units.js";
import { backoffMs, MAX_ATTEMPTS } from "./backoff.js";
import { type EventDeps, noteProgress } from "./events.js";
import { type FallbackDeps, moveToFallback, spawnWorkUnits } from "./fallback.js";
import { failUnit, finalizeIfDone } from "./lifecycle.js";

/**
 * What happens to a work unit after its provider spoke: the retry, fallback and failure decisions of
 * the pipeline (api.md §5), in the domain. Worker handlers call these with what the adapter said —
 * a failure as plain facts, never a provider's error class.
 */
export interface OutcomeDeps extends FallbackDeps, EventDeps {
  db: Db;
  /** Base of the jittered retry backoff (ms); small in tests. */
  retryBaseMs: number;
}

/** A provider's refusal or fault, as the adapter classified it. */
export interface ProviderFailure {
  code: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  retryable: boolean;
}

/** Submits failing this often in a row hand the work unit down its fallback ladder. */
export const SUBMIT_FAILURES_BEFORE_FALLBACK = 3;
/** A work unit whose items fail retryably at least this often makes its lane look degraded. */
export const DEGRADED_FAILURE_RATIO = 0.5;
/** Reads of a provider job that may fail in a row before its open items move on. */
export const POLL_FAILURES_BEFORE_GIVING_UP = 8;

/**
 * A submit the provider refused: a permanent refusal fails the items; a retryable one is tried again
 * with backoff (Retry-After honoured) and, after a few, moves the items down the ladder.
 */
export async function submitFailed(deps: OutcomeDeps, wu: WorkUnitRow, f: ProviderFailure): Promise<void> {
  const error = { code: f.code, message: f.message, provider_status: f.status };
  deps.logger.warn({ work_unit_id: wu.id, lane_id: wu.lane_id, error: f.code, retryable: f.retryable }, "submit failed");
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, "no key update"); // lock order: batch, then unit
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "pending") return;
    const failures = locked.submit_failures + 1;
    await updateWorkUnit(trx, wu.id, { submit_failures: failures, last_error: error });
    if (!f.retryable) {
      await failUnit(trx, deps.jobs, wu, ["processing", "queued"], {
        code: "provider_error",
        message: f.message,
        provider_status: f.status,
      });
      return;
    }
    if (failures >= SUBMIT_FAILURES_BEFORE_FALLBACK && locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, {
        reason: `submit failed ${failures} times (${f.code})`,
        itemStatuses: ["processing", "queued"],
      });
      return;
    }
    // The attempt never reached the provider: give it back, then try again later.
    await unstartItems(trx, wu.id);
    const delay = backoffMs(failures, { baseMs: deps.retryBaseMs, maxMs: 60_000, retryAfterMs: f.retryAfterMs });
    if (failures >= MAX_ATTEMPTS) {
      await failUnit(trx, deps.jobs, wu, ["queued", "processing"], {
        code: f.code === "lane_down" ? "provider_error" : f.code,
        message: `gave up after ${failures} submits: ${f.message}`,
      });
      return;
    }
    await batchesQ.addRouteEvent(trx, wu.batch_id, "retry", { work_unit_id: wu.id, lane_id: wu.lane_id, reason: f.code, after_ms: delay });
    await deps.jobs.send(trx, "submit", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + delay) });
  });
}

/**
 * A unit's results are all written: its retryable failures go out again (a new unit on the same
 * lane after a backoff, or down the ladder when the lane looks degraded, or cancelled when the batch
 * is being cancelled), the unit is closed, and the batch finalizes if nothing is left open.
 * `noRetries`: this collect itself wrote every item of the unit, none as `retry`, so none can be
 * waiting for another attempt and the unit's items need not be looked through for one (a
 * 10,000-item unit's were ~60 ms of the database's time each, 6 s of a million-item batch).
 */
export async function closeCollectedUnit(deps: OutcomeDeps, wu: WorkUnitRow, retryRatio: number, noRetries = false): Promise<void> {
  await deps.db.transaction(async (trx) => {
    // The batch row first, then the unit: the order every other writer locks in (expire, cancel,
    // submit), so none of them deadlocks with this one.
    const batch = (await batchesQ.getBatchById(trx, wu.batch_id, "no key update")) as BatchRow;
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "submitted") return;
    const retries = noRetries ? [] : await unitItems(trx, wu.id, ["retry"]);
    let movedAway = false;
    if (retries.length > 0 && batch.status === "cancelling") {
      // Keeps the failed attempt's error: the item was cancelled between attempts.
      await endItems(trx, { work_unit_id: wu.id }, ["retry"], "cancelled", undefined);
    } else if (retries.length > 0 && retryRatio >= DEGRADED_FAILURE_RATIO && locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, {
        reason: `${Math.round(retryRatio * 100)} % of items failed retryably`,
        itemStatuses: ["retry"],
      });
      movedAway = true;
    } else if (retries.length > 0) {
      const attempt = Math.max(...retries.map((r) => r.attempts));
      const delay = backoffMs(attempt, { baseMs: deps.retryBaseMs, maxMs: 300_000 });
      const ids = await spawnWorkUnits(trx, deps, {
        laneId: wu.lane_id,
        from: locked,
        idxs: retries.map((r) => r.idx),
        fallbackOrder: locked.fallback_order,
        startAfter: new Date(Date.now() + delay),
      });
      await batchesQ.addRouteEvent(trx, wu.batch_id, "retry", {
        work_unit_id: wu.id,
        lane_id: wu.lane_id,
        item_count: retries.length,
        new_work_unit_ids: ids,
        after_ms: delay,
      });
    }
    if (!movedAway) await endWorkUnit(trx, wu.id, "collected");
    await noteProgress(trx, deps, batch);
    await finalizeIfDone(trx, deps.jobs, wu.batch_id);
  });
}

/**
 * Polling or collecting a unit failed. A transient fault (429, 5xx, timeout) is retried with the
 * pipeline's backoff, honouring Retry-After, as a submit is — not left to pg-boss's job retries,
 * which would give up after a few and strand the batch until the stale sweep. A permanent fault, or
 * too many transient ones, gives the provider job up: it is cancelled there (best effort, so it
 * isn't paid for twice) and the unit's open items move down the ladder, or fail when none is left.
 */
export async function readFailed(
  deps: OutcomeDeps,
  wu: WorkUnitRow,
  err: ProviderFailure,
  cancelAtProvider: () => Promise<void>,
): Promise<void> {
  const failures = wu.poll_failures + 1;
  const error = { code: err.code, message: err.message, provider_status: err.status };
  deps.logger.warn({ work_unit_id: wu.id, lane_id: wu.lane_id, error: err.code, failures }, "reading the provider job failed");
  if (err.retryable && failures < POLL_FAILURES_BEFORE_GIVING_UP) {
    const delay = backoffMs(failures, { baseMs: deps.retryBaseMs, maxMs: 60_000, retryAfterMs: err.retryAfterMs });
    await deps.db.transaction(async (trx) => {
      await updateWorkUnit(trx, wu.id, { poll_failures: failures, last_error: error });
      await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + delay) });
    });
    return;
  }
  await cancelAtProvider().catch(() => undefined);
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, "no key update"); // lock order: batch, then unit
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "submitted") return;
    await updateWorkUnit(trx, wu.id, { poll_failures: failures, last_error: error });
    // `retry` too: results a collect already saved as retryable failures before it was cut off
    // (a crash, a broken download) are this unit's to send on — left behind, they'd hold the batch open.
    if (locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, {
        reason: `the provider job could not be read (${err.code})`,
        itemStatuses: ["processing", "retry"],
      });
      await finalizeIfDone(trx, deps.jobs, wu.batch_id);
    } else {
      await failUnit(trx, deps.jobs, locked, ["processing", "retry"], {
        code: "provider_error",
        message: `the provider job could not be read: ${err.message}`,
      });
    }
  });
}
