import type { Db } from "../../db/connection.js";
import { endItems, unitItems, type ItemStatus } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { endWorkUnit, workUnitsInStatus } from "../../db/queries/work-units.js";
import { finalizeIfDone, type BatchStatus } from "../../server/batches/lifecycle.js";
import type { Lane } from "../../server/catalog/types.js";
import type { BatchWorkerDeps } from "../batch-context.js";
import { spawnWorkUnits } from "../../server/batches/fallback.js";

/**
 * pending → queued → routing → dispatched, each step its own transaction so a caller watching the
 * batch sees where it is. The work units were planned at create (from the quote or a fresh route);
 * `routing` checks each against the catalog as it is now — a lane that has gone unhealthy or been
 * withdrawn since the quote hands its items down the unit's fallback ladder at the locked price —
 * and `dispatched` sends every unit to its submit job. Idempotent and resumable: each step only
 * moves the batch on from the state before it, so a re-run after a crash carries on where it was.
 */
export async function dispatchBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  if (!(await advance(deps.db, batchId, ["pending"], "queued"))) return;
  await deps.db.transaction(async (trx) => {
    const batch = await batchesQ.getBatchById(trx, batchId, true);
    if (batch?.status !== "queued") return;
    await batchesQ.updateBatch(trx, batchId, { status: "routing" });
  });
  await deps.db.transaction(async (trx) => {
    const batch = await batchesQ.getBatchById(trx, batchId, true);
    if (batch?.status !== "routing") return;
    await rerouteUnavailable(trx, deps, batchId);
    const units = (await workUnitsInStatus(trx, batchId, ["pending"])).map((u) => ({
      id: u.id,
      lane_id: u.lane_id,
      item_count: u.item_count,
    }));
    for (const u of units) await deps.jobs.send(trx, "submit", { work_unit_id: u.id });
    await batchesQ.updateBatch(trx, batchId, { status: "dispatched", dispatched_at: trx.fn.now() });
    await batchesQ.addRouteEvent(trx, batchId, "dispatched", { work_units: units });
    // Every item may have failed here (no usable lane): nothing else would then finalize the batch.
    await finalizeIfDone(trx, deps.jobs, batchId);
  });
}

/** Moves a batch from one of `from` to `to` (one transaction, the batch row locked); false if it was elsewhere. */
async function advance(db: Db, batchId: string, from: BatchStatus[], to: BatchStatus): Promise<boolean> {
  return db.transaction(async (trx) => {
    const batch = await batchesQ.getBatchById(trx, batchId, true);
    if (!batch) return false;
    if (from.includes(batch.status)) await batchesQ.updateBatch(trx, batchId, { status: to });
    // A re-run finds the batch further on: carry on from there.
    return from.includes(batch.status) || ["queued", "routing"].includes(batch.status);
  });
}

const usable = (lane: Lane | undefined): lane is Lane => lane !== undefined && lane.healthy;

/**
 * Each pending unit whose lane is no longer usable goes to the first usable lane of its ladder
 * (new units, same locked prices, a `fallback` route event). With no usable rung, a unit whose
 * lane still exists stays on it — the retry and fallback machinery deals with what happens there —
 * and one whose lane is gone fails its items as `lane_unavailable` (released, never billed).
 */
async function rerouteUnavailable(trx: Db, deps: BatchWorkerDeps, batchId: string): Promise<void> {
  const snapshot = await deps.catalog.get();
  const units = await workUnitsInStatus(trx, batchId, ["pending"]);
  for (const wu of units) {
    if (usable(snapshot.laneById.get(wu.lane_id))) continue;
    const at = wu.fallback_order.findIndex((id) => usable(snapshot.laneById.get(id)));
    const gone = !snapshot.laneById.has(wu.lane_id);
    if (at === -1 && !gone) continue;
    // `processing` too: a submit re-sent by the stale-batch sweep may have started some (it then
    // finds its unit failed and records nothing).
    const open: ItemStatus[] = ["queued", "processing"];
    const idxs = (await unitItems(trx, wu.id, open)).map((r) => r.idx);
    await endWorkUnit(trx, wu.id, "failed");
    const reason = gone ? "the lane is no longer offered" : "the lane is unhealthy";
    if (at === -1) {
      await endItems(trx, { work_unit_id: wu.id }, open, "failed", {
        code: "lane_unavailable",
        message: `${wu.lane_id}: ${reason}, and no lane of its fallback ladder is available.`,
      });
      await batchesQ.addRouteEvent(trx, batchId, "lane_failed", {
        work_unit_id: wu.id,
        lane_id: wu.lane_id,
        item_count: idxs.length,
        reason,
      });
      continue;
    }
    const to = wu.fallback_order[at]!;
    const ids = await spawnWorkUnits(trx, deps, { laneId: to, from: wu, idxs, fallbackOrder: wu.fallback_order.slice(at + 1) });
    await batchesQ.addRouteEvent(trx, batchId, "fallback", {
      from_lane_id: wu.lane_id,
      to_lane_id: to,
      work_unit_id: wu.id,
      new_work_unit_ids: ids,
      item_count: idxs.length,
      reason: `${reason} at dispatch`,
    });
  }
}
