import type { Db } from "../connection.js";

export const WORK_UNIT_STATUSES = ["pending", "submitted", "collected", "failed", "cancelled"] as const;
export type WorkUnitStatus = (typeof WORK_UNIT_STATUSES)[number];

export interface WorkUnitRow {
  id: string;
  batch_id: string;
  lane_id: string;
  provider: string;
  model: string;
  attempt: number;
  status: WorkUnitStatus;
  fallback_order: string[];
  input_per_mtok_micros: number;
  output_per_mtok_micros: number;
  provider_ref: Record<string, unknown> | null;
  execution: string;
  item_count: number;
  submit_failures: number;
  poll_failures: number;
  last_error: Record<string, unknown> | null;
  created_at: Date;
  submitted_at: Date | null;
  finished_at: Date | null;
}

const json = (v: unknown) => JSON.stringify(v);

export async function insertWorkUnits(
  db: Db,
  rows: Omit<
    WorkUnitRow,
    "created_at" | "submitted_at" | "finished_at" | "provider_ref" | "submit_failures" | "poll_failures" | "last_error"
  >[],
): Promise<void> {
  if (rows.length) await db("work_units").insert(rows.map((r) => ({ ...r, fallback_order: json(r.fallback_order) })));
}

export async function workUnitsOf(db: Db, batchId: string): Promise<WorkUnitRow[]> {
  return db<WorkUnitRow>("work_units").where({ batch_id: batchId }).orderBy("created_at");
}

export async function getWorkUnit(db: Db, id: string, lock = false): Promise<WorkUnitRow | undefined> {
  const q = db<WorkUnitRow>("work_units").where({ id }).first();
  return lock ? q.forUpdate() : q;
}

export async function updateWorkUnit(db: Db, id: string, patch: Partial<Record<keyof WorkUnitRow, unknown>>): Promise<void> {
  const out: Record<string, unknown> = { ...patch };
  for (const k of ["provider_ref", "last_error", "fallback_order"] as const) if (k in patch && patch[k] !== null) out[k] = json(patch[k]);
  await db("work_units").where({ id }).update(out);
}

export async function workUnitsInStatus(db: Db, batchId: string, statuses: readonly WorkUnitStatus[]): Promise<WorkUnitRow[]> {
  return db<WorkUnitRow>("work_units").where({ batch_id: batchId }).whereIn("status", statuses).orderBy("created_at");
}

/** Closes every unit of the batch in one of `from` as `to` (cancelled, when a batch stops). */
export async function closeWorkUnits(db: Db, batchId: string, from: readonly WorkUnitStatus[], to: WorkUnitStatus): Promise<void> {
  await db("work_units").where({ batch_id: batchId }).whereIn("status", from).update({ status: to, finished_at: db.fn.now() });
}

/** Ends one unit as `status` now. */
export async function endWorkUnit(db: Db, id: string, status: WorkUnitStatus): Promise<void> {
  await db("work_units").where({ id }).update({ status, finished_at: db.fn.now() });
}
