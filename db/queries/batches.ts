import type { Db } from "../connection.js";

export interface BatchRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  status: string;
  quote_id: string | null;
  input_file_id: string | null;
  item_count: number;
  routing_mode: string;
  sla_tier: string;
  privacy_tier: string;
  allowed_regions: string[];
  constraints: Record<string, unknown>;
  fee_rate_bps: number;
  quoted_subtotal_micros: number;
  quoted_fee_micros: number;
  quoted_total_micros: number;
  reserved_micros: number;
  settled_provider_micros: number;
  settled_fee_micros: number;
  released_micros: number;
  sla_fee_refund_micros: number;
  pricing_estimate: Record<string, unknown>;
  lanes_report: unknown[];
  customer_explanation: string | null;
  webhook_url: string | null;
  webhook_secret_enc: string | null;
  metadata: Record<string, string>;
  error: { code: string; message: string } | null;
  artifacts: Record<string, { file_id: string; storage_key: string; bytes: number; sha256: string }> | null;
  sla_deadline: Date;
  created_at: Date;
  updated_at: Date;
  dispatched_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  failed_at: Date | null;
  expired_at: Date | null;
  settled_at: Date | null;
  last_progress_event_at: Date | null;
}

export interface WorkUnitRow {
  id: string;
  batch_id: string;
  lane_id: string;
  provider: string;
  model: string;
  attempt: number;
  status: "pending" | "submitted" | "collected" | "failed" | "cancelled";
  fallback_order: string[];
  input_per_mtok_micros: number;
  output_per_mtok_micros: number;
  provider_ref: Record<string, unknown> | null;
  execution: string;
  item_count: number;
  submit_failures: number;
  last_error: Record<string, unknown> | null;
  created_at: Date;
  submitted_at: Date | null;
  finished_at: Date | null;
}

export interface BatchItemRow {
  batch_id: string;
  idx: number;
  customer_item_id: string;
  operation: string;
  models: string[];
  item: Record<string, unknown>;
  work_unit_id: string | null;
  lane_id: string | null;
  status: "queued" | "processing" | "completed" | "failed" | "cancelled" | "expired";
  attempts: number;
  output: unknown;
  error: { code: string; message: string; provider_status?: number } | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_micros: number | null;
  fee_micros: number | null;
  settled: boolean;
  finished_at: Date | null;
}

const json = (v: unknown) => JSON.stringify(v);

export async function insertBatch(db: Db, row: Omit<BatchRow, "created_at" | "updated_at" | "dispatched_at" | "completed_at" | "cancelled_at" | "failed_at" | "expired_at" | "settled_at" | "last_progress_event_at" | "settled_provider_micros" | "settled_fee_micros" | "released_micros" | "sla_fee_refund_micros" | "error" | "artifacts">): Promise<BatchRow> {
  const [inserted] = await db("batches")
    .insert({
      ...row,
      allowed_regions: json(row.allowed_regions),
      constraints: json(row.constraints),
      pricing_estimate: json(row.pricing_estimate),
      lanes_report: json(row.lanes_report),
      metadata: json(row.metadata),
    })
    .returning("*");
  return inserted as BatchRow;
}

export async function insertWorkUnits(db: Db, rows: Omit<WorkUnitRow, "created_at" | "submitted_at" | "finished_at" | "provider_ref" | "submit_failures" | "last_error">[]): Promise<void> {
  if (rows.length) await db("work_units").insert(rows.map((r) => ({ ...r, fallback_order: json(r.fallback_order) })));
}

export async function insertItems(db: Db, rows: Pick<BatchItemRow, "batch_id" | "idx" | "customer_item_id" | "operation" | "models" | "item" | "work_unit_id" | "lane_id" | "status">[]): Promise<void> {
  // One INSERT per 2,000 rows keeps each statement under PostgreSQL's 65,535 bind parameters.
  for (let i = 0; i < rows.length; i += 2000) {
    await db("batch_items").insert(rows.slice(i, i + 2000).map((r) => ({ ...r, models: json(r.models), item: json(r.item) })));
  }
}

export async function getBatch(db: Db, orgId: string, environment: string, id: string): Promise<BatchRow | undefined> {
  return db<BatchRow>("batches").where({ id, org_id: orgId, environment: environment as BatchRow["environment"] }).first();
}

export async function getBatchById(db: Db, id: string, lock = false): Promise<BatchRow | undefined> {
  const q = db<BatchRow>("batches").where({ id }).first();
  return lock ? q.forUpdate() : q;
}

export async function updateBatch(db: Db, id: string, patch: Partial<Record<keyof BatchRow, unknown>>): Promise<void> {
  const out: Record<string, unknown> = { ...patch, updated_at: db.fn.now() };
  for (const k of ["error", "artifacts"] as const) if (k in patch && patch[k] !== null) out[k] = json(patch[k]);
  await db("batches").where({ id }).update(out);
}

export async function listBatches(db: Db, orgId: string, environment: string, limit: number, beforeId?: string, status?: string): Promise<BatchRow[]> {
  const q = db<BatchRow>("batches").where({ org_id: orgId, environment: environment as BatchRow["environment"] }).orderBy("id", "desc").limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  if (status) q.andWhere("status", status);
  return q;
}

export async function itemCounts(db: Db, batchId: string): Promise<Record<string, number>> {
  const rows = await db("batch_items").where({ batch_id: batchId }).groupBy("status").select("status", db.raw("count(*)::int AS n"));
  return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
}

export async function laneSummary(db: Db, batchId: string) {
  return db("batch_items")
    .where({ batch_id: batchId })
    .groupBy("lane_id")
    .select("lane_id", db.raw("count(*)::int AS item_count"),
      db.raw("count(*) FILTER (WHERE status IN ('queued','processing','retry'))::int AS open"),
      db.raw("coalesce(sum(input_tokens),0)::bigint AS input_tokens"), db.raw("coalesce(sum(output_tokens),0)::bigint AS output_tokens"),
      db.raw("coalesce(sum(cost_micros) FILTER (WHERE settled),0)::bigint AS provider_cost"),
      db.raw("count(*) FILTER (WHERE status = 'completed')::int AS completed"),
      db.raw("count(*) FILTER (WHERE status = 'failed')::int AS failed")) as Promise<
    { lane_id: string | null; item_count: number; open: number; input_tokens: number; output_tokens: number; provider_cost: number; completed: number; failed: number }[]
  >;
}

/** Keyset page of finished items in manifest order: the last page costs what the first does. */
export async function resultsPage(db: Db, batchId: string, afterIdx: number, limit: number, status?: "completed" | "failed"): Promise<BatchItemRow[]> {
  const q = db<BatchItemRow>("batch_items").where({ batch_id: batchId }).andWhere("idx", ">", afterIdx).orderBy("idx").limit(limit);
  // Cancelled and expired items are reported as failed (with their own error code).
  if (status === "completed") q.andWhere("status", "completed");
  else if (status === "failed") q.whereIn("status", ["failed", "cancelled", "expired"]);
  else q.whereIn("status", ["completed", "failed", "cancelled", "expired"]);
  return q;
}

export async function addRouteEvent(db: Db, batchId: string, kind: string, details: Record<string, unknown>): Promise<void> {
  await db("route_events").insert({ batch_id: batchId, kind, details: json(details) });
}

export async function routeEvents(db: Db, batchId: string) {
  return db("route_events").where({ batch_id: batchId }).orderBy("id").select("kind", "details", "at");
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

export async function itemsOfWorkUnit(db: Db, workUnitId: string, statuses: string[]): Promise<BatchItemRow[]> {
  return db<BatchItemRow>("batch_items").where({ work_unit_id: workUnitId }).whereIn("status", statuses).orderBy("idx");
}
