import { endItems, requestItemsOfWorkUnit, unitItems } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { endWorkUnit, getWorkUnit, updateWorkUnit, type WorkUnitRow } from "../../db/queries/work-units.js";
import { noteProgress } from "../../server/batches/events.js";
import { failUnit, finalizeIfDone } from "../../server/batches/lifecycle.js";
import { applyOutcomes, type ItemOutcome } from "../../server/batches/settlement.js";
import { MAX_ATTEMPTS, backoffMs } from "../providers/retry-policy.js";
import { type ItemResult, type ProviderAdapter, ProviderError, type ProviderJobRef } from "../providers/types.js";
import { adapterForUnit, idxOfItemId, pollDelayMs, submitRequest, type BatchWorkerDeps } from "../batch-context.js";
import { moveToFallback, spawnWorkUnits } from "../../server/batches/fallback.js";

/** Results written and billed per transaction: large enough to amortise, small enough to keep locks short. */
const CHUNK = 5000;
const REALTIME_CHUNK = 100;
/** A work unit whose items fail retryably at least this often makes its lane look degraded. */
const DEGRADED_FAILURE_RATIO = 0.5;

/**
 * Polls a submitted work unit; once the provider is done, collects every result, writes and
 * bills them in chunks, and sends retryable failures back out (same lane, or down the ladder when
 * the lane looks degraded). Safe to run again at any point after a crash.
 */
export async function pollWorkUnit(deps: BatchWorkerDeps, workUnitId: string): Promise<void> {
  const wu = await getWorkUnit(deps.db, workUnitId);
  if (wu?.status !== "submitted" || !wu.provider_ref) return;
  const batch = await batchesQ.getBatchById(deps.db, wu.batch_id);
  if (!batch) return;
  let unit: Awaited<ReturnType<typeof adapterForUnit>>;
  try {
    unit = await adapterForUnit(deps, wu, batch.environment);
  } catch (err) {
    if (err instanceof ProviderError) return providerUnreadable(deps, wu, null, err);
    throw err;
  }
  const { lane, adapter } = unit;
  const ref = wu.provider_ref as ProviderJobRef;
  let progress: Awaited<ReturnType<typeof adapter.poll>>;
  try {
    progress = await adapter.poll(ref);
  } catch (err) {
    if (err instanceof ProviderError) return providerUnreadable(deps, wu, adapter, err);
    throw err;
  }
  // The failures that give a provider job up are consecutive ones: a read that works starts over.
  if (wu.poll_failures > 0) await updateWorkUnit(deps.db, wu.id, { poll_failures: 0 });
  if (progress.status === "in_progress") {
    await deps.db.transaction(async (trx) => {
      await noteProgress(trx, deps, batch);
      await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + pollDelayMs(wu.submitted_at)) });
    });
    return;
  }

  // Every item the unit was submitted with, whatever its state now, so a batch adapter sees the same
  // set (its ids and slices are recomputed from it). A real-time lane makes its calls during collect:
  // after a crash mid-collect only the items not yet settled are sent again.
  const all = await requestItemsOfWorkUnit(deps.db, wu.id);
  const items = lane.protocol === "realtime" ? all.filter((i) => i.status === "processing") : all;
  const req = submitRequest(wu, lane, items);
  const attemptOf = new Map(items.map((i) => [i.idx, i.attempts]));
  let buffer: ItemOutcome[] = [];
  let retryable = 0;
  let pending: Promise<void> = Promise.resolve();
  const flush = async () => {
    const chunk = buffer;
    buffer = [];
    const started = performance.now();
    await deps.db.transaction(async (trx) => {
      // A key share: chunks of the batch's other work units go on at the same time.
      await batchesQ.getBatchById(trx, batch.id, "key share");
      await applyOutcomes(trx, batch, wu, chunk);
    });
    deps.logger.debug({ work_unit_id: wu.id, items: chunk.length, ms: Math.round(performance.now() - started) }, "chunk applied");
  };
  // A real-time lane's results are calls already made (and paid for): they are saved in small chunks,
  // so a crash or an error mid-collect repeats few of them.
  const chunkSize = lane.protocol === "realtime" ? REALTIME_CHUNK : CHUNK;
  try {
    for await (const r of adapter.collect(ref, req)) {
      const outcome = toOutcome(r, attemptOf.get(idxOfItemId(r.item_id)) ?? 1);
      if (outcome.status === "retry") retryable++;
      buffer.push(outcome);
      // Write one chunk while the adapter produces the next (the database works in its own process).
      if (buffer.length >= chunkSize) {
        await pending;
        pending = flush();
      }
    }
  } catch (err) {
    // Save what was read before the failure (settlement is keyed per item, so the next read
    // yielding it again changes nothing).
    await pending;
    await flush();
    if (err instanceof ProviderError) return providerUnreadable(deps, wu, adapter, err);
    throw err;
  }
  await pending;
  await flush();
  await closeWorkUnit(deps, wu, retryable / Math.max(1, items.length));
  // Only now, with every result committed, may the provider drop its copy (files, stored results).
  await adapter.release?.(ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "releasing the provider's files failed"));
}

/** Reads of a provider job that may fail before its open items move on: transient faults get this many tries. */
export const POLL_FAILURES_BEFORE_GIVING_UP = 8;

/**
 * Polling or collecting a unit failed. A transient fault (429, 5xx, timeout) is retried with the
 * pipeline's backoff, honouring Retry-After, as a submit is — not left to pg-boss's job retries,
 * which would give up after a few and strand the batch until the stale sweep. A permanent fault, or
 * too many transient ones, gives the provider job up: it is cancelled there (best effort, so it
 * isn't paid for twice) and the unit's open items move down the ladder, or fail when none is left.
 */
async function providerUnreadable(
  deps: BatchWorkerDeps,
  wu: WorkUnitRow,
  adapter: ProviderAdapter | null,
  err: ProviderError,
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
  if (adapter && wu.provider_ref) await adapter.cancel(wu.provider_ref as ProviderJobRef).catch(() => undefined);
  await deps.db.transaction(async (trx) => {
    await batchesQ.getBatchById(trx, wu.batch_id, true); // lock order: batch, then unit
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "submitted") return;
    await updateWorkUnit(trx, wu.id, { poll_failures: failures, last_error: error });
    if (locked.fallback_order.length > 0) {
      await moveToFallback(trx, deps, locked, { reason: `the provider job could not be read (${err.code})`, itemStatuses: ["processing"] });
      await finalizeIfDone(trx, deps.jobs, wu.batch_id);
    } else {
      await failUnit(trx, deps.jobs, locked, ["processing"], {
        code: "provider_error",
        message: `the provider job could not be read: ${err.message}`,
      });
    }
  });
}

function toOutcome(r: ItemResult, attempts: number): ItemOutcome {
  const idx = idxOfItemId(r.item_id);
  const usage = { input_tokens: r.usage?.input_tokens ?? 0, output_tokens: r.usage?.output_tokens ?? 0 };
  if (r.status === "completed") return { idx, status: "completed", output: r.output, error: null, ...usage };
  const error = r.error ?? { code: "provider_error", message: "the provider returned no result" };
  if (error.code === "cancelled") return { idx, status: "cancelled", output: null, error, ...usage };
  if (r.retryable && attempts < MAX_ATTEMPTS) return { idx, status: "retry", output: null, error, ...usage };
  return { idx, status: "failed", output: null, error, ...usage };
}

/** Sends the unit's retries out, marks it collected, and finalizes the batch if nothing is left open. */
async function closeWorkUnit(deps: BatchWorkerDeps, wu: WorkUnitRow, retryRatio: number) {
  await deps.db.transaction(async (trx) => {
    // The batch row first, then the unit: the order every other writer locks in (expire, cancel,
    // submit), so none of them deadlocks with this one.
    const batch = (await batchesQ.getBatchById(trx, wu.batch_id, true)) as BatchRow;
    const locked = await getWorkUnit(trx, wu.id, true);
    if (locked?.status !== "submitted") return;
    const retries = await unitItems(trx, wu.id, ["retry"]);
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
