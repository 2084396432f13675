import type { Db } from "../connection.js";

/**
 * Whether a work unit's items were already started by an earlier run of its submit — one that died
 * between starting them and recording the provider's job, so the provider may hold that job.
 */
export async function unitItemsStarted(db: Db, workUnitId: string): Promise<boolean> {
  const row = await db("batch_items").where({ work_unit_id: workUnitId, status: "processing" }).first(db.raw("1 AS one"));
  return Boolean(row);
}
