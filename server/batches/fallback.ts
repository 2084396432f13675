import type { Db } from "../../db/connection.js";
import { assignItems, unitItems, type ItemStatus } from "../../db/queries/batch-items.js";
import { addRouteEvent } from "../../db/queries/batches.js";
import { endWorkUnit, insertWorkUnits, type WorkUnitRow } from "../../db/queries/work-units.js";
import type { CatalogStore } from "../catalog/store.js";
import { newId } from "../ids.js";
import type { JobSender } from "../jobs/sender.js";
import type { Logger } from "../logger.js";
import { unitLimit } from "./unit-limits.js";

/**
 * The retry and fallback transitions of a work unit's items: onto a new unit on the same lane (a
 * retry) or on the next rung of the unit's ladder (a fallback), in the caller's transaction.
 */
export interface FallbackDeps {
  catalog: CatalogStore;
  jobs: JobSender;
  logger: Logger;
}

/** The lane as the catalog has it now; a lane withdrawn since the plan is an error. */
export async function laneOf(deps: Pick<FallbackDeps, "catalog">, laneId: string) {
  const lane = (await deps.catalog.get()).laneById.get(laneId);
  if (!lane) throw new Error(`lane ${laneId} is no longer in the catalog`);
  return lane;
}

interface Spawn {
  laneId: string;
  from: WorkUnitRow;
  idxs: number[];
  fallbackOrder: string[];
  startAfter?: Date;
}

/**
 * New work units for items leaving `from` (a retry on the same lane, or a fallback to the next
 * rung). They keep `from`'s locked prices: a fallback never costs the customer more.
 */
export async function spawnWorkUnits(trx: Db, deps: FallbackDeps, s: Spawn): Promise<string[]> {
  const lane = await laneOf(deps, s.laneId);
  const limit = unitLimit(lane.protocol);
  const ids: string[] = [];
  for (let i = 0; i < s.idxs.length; i += limit) {
    const chunk = s.idxs.slice(i, i + limit);
    const id = newId("wu");
    await insertWorkUnits(trx, [
      {
        id,
        batch_id: s.from.batch_id,
        lane_id: lane.lane_id,
        provider: lane.provider,
        model: lane.model,
        attempt: s.from.attempt + 1,
        status: "pending",
        fallback_order: s.fallbackOrder,
        input_per_mtok_micros: s.from.input_per_mtok_micros,
        output_per_mtok_micros: s.from.output_per_mtok_micros,
        execution: s.from.execution,
        item_count: chunk.length,
      },
    ]);
    await assignItems(trx, s.from.batch_id, chunk, id, lane.lane_id);
    await deps.jobs.send(trx, "submit", { work_unit_id: id }, { startAfter: s.startAfter });
    ids.push(id);
  }
  return ids;
}

/** Hands a work unit's unfinished items to the next lane of its ladder (never across a constraint: the ladder only holds lanes every item may use). */
export async function moveToFallback(
  trx: Db,
  deps: FallbackDeps,
  wu: WorkUnitRow,
  opts: { reason: string; itemStatuses: readonly ItemStatus[] },
): Promise<void> {
  const [next, ...rest] = wu.fallback_order;
  const idxs = (await unitItems(trx, wu.id, opts.itemStatuses)).map((r) => r.idx);
  await endWorkUnit(trx, wu.id, "failed");
  if (!next || idxs.length === 0) return;
  // Items already at the provider were never charged an attempt they didn't get; keep their count.
  const ids = await spawnWorkUnits(trx, deps, { laneId: next, from: wu, idxs, fallbackOrder: rest });
  await addRouteEvent(trx, wu.batch_id, "fallback", {
    from_lane_id: wu.lane_id,
    to_lane_id: next,
    work_unit_id: wu.id,
    new_work_unit_ids: ids,
    item_count: idxs.length,
    reason: opts.reason,
  });
  deps.logger.warn({ batch_id: wu.batch_id, from: wu.lane_id, to: next, items: idxs.length }, "lane fallback");
}
