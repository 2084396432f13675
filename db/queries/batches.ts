import type { Db } from "../connection.js";

/**
 * The values `batches.status` takes (their meaning and transitions: server/batches/lifecycle.ts).
 * The database's facts live here, where the rows are typed; the domain builds on them.
 */
export const BATCH_STATUSES = [
  "validating",
  "pending",
  "queued",
  "routing",
  "dispatched",
  "processing",
  "completing",
  "completed",
  "failed",
  "cancelling",
  "cancelled",
  "expired",
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** How a batch's items stand: per status, and per lane (items, and those still open). */
export interface ItemTally {
  counts: Record<string, number>;
  lanes: { lane_id: string | null; item_count: number; open: number }[];
  /** The tokens the items used: in the tally kept as a batch ends (getItemTally's `withTokens`). */
  tokens?: { input: number; output: number };
}

export interface BatchRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  status: BatchStatus;
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
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  artifacts: Record<string, { file_id: string; storage_key: string; bytes: number; sha256: string }> | null;
  /** The item tally as the batch ended (migration 0020); null while it runs, and for batches ended before. */
  final_tally: ItemTally | null;
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
  /** The tokens the batch was priced on (bigint columns: node-pg reads them as strings). */
  estimated_input_tokens: string | number | null;
  estimated_output_tokens: string | number | null;
  /** Deleted through a compatible surface (which then no longer shows it); the row stays for billing. */
  compat_deleted_at: Date | null;
  /** While `validating`: the create options its first job needs (migration 0013). */
  pending_request: Record<string, unknown> | null;
}

const json = (v: unknown) => JSON.stringify(v);

export async function insertBatch(
  db: Db,
  row: Omit<
    BatchRow,
    | "created_at"
    | "updated_at"
    | "dispatched_at"
    | "completed_at"
    | "cancelled_at"
    | "failed_at"
    | "expired_at"
    | "settled_at"
    | "last_progress_event_at"
    | "compat_deleted_at"
    | "settled_provider_micros"
    | "settled_fee_micros"
    | "released_micros"
    | "sla_fee_refund_micros"
    | "error"
    | "artifacts"
    | "final_tally"
  >,
): Promise<BatchRow> {
  const [inserted] = await db("batches")
    .insert({
      ...row,
      allowed_regions: json(row.allowed_regions),
      constraints: json(row.constraints),
      pricing_estimate: json(row.pricing_estimate),
      lanes_report: json(row.lanes_report),
      metadata: json(row.metadata),
      pending_request: row.pending_request === null ? null : json(row.pending_request),
    })
    .returning("*");
  return inserted as BatchRow;
}

export async function getBatch(db: Db, orgId: string, environment: string, id: string): Promise<BatchRow | undefined> {
  return db<BatchRow>("batches")
    .where({ id, org_id: orgId, environment: environment as BatchRow["environment"] })
    .first();
}

/**
 * `true` (FOR UPDATE) is what stops or ends a batch takes (cancel, expiry, finish): it waits for every
 * other holder. "no key update" is what one work unit's own transitions take (submit, a failed
 * submit or read, closing a collected unit): they queue behind each other and behind a stop, but not
 * behind "key share" — what writing a chunk of results holds, many at once, which still lets each of
 * them update the row's counters. (Before, a unit's submit queued for FOR UPDATE behind a stream of
 * other units' chunk transactions: 4–6 s waits on a 100,000-item batch.)
 */
export type BatchLock = boolean | "no key update" | "key share";

export async function getBatchById(db: Db, id: string, lock: BatchLock = false): Promise<BatchRow | undefined> {
  const q = db<BatchRow>("batches").where({ id }).first();
  if (lock === true) return q.forUpdate();
  if (lock === "no key update") return q.forNoKeyUpdate();
  if (lock === "key share") return q.forKeyShare();
  return q;
}

export async function updateBatch(db: Db, id: string, patch: Partial<Record<keyof BatchRow, unknown>>): Promise<void> {
  const out: Record<string, unknown> = { ...patch, updated_at: db.fn.now() };
  // jsonb columns: node-pg would send a JS array as a PostgreSQL array.
  for (const k of ["error", "artifacts", "lanes_report", "pricing_estimate", "constraints", "pending_request", "allowed_regions"] as const)
    if (k in patch && patch[k] !== null) out[k] = json(patch[k]);
  await db("batches").where({ id }).update(out);
}

export async function listBatches(
  db: Db,
  orgId: string,
  environment: string,
  limit: number,
  beforeId?: string,
  status?: BatchStatus,
  /** Leave out batches deleted through a compatible surface (that surface's own lists). */
  visibleOnly = false,
): Promise<BatchRow[]> {
  const q = db<BatchRow>("batches")
    .where({ org_id: orgId, environment: environment as BatchRow["environment"] })
    .orderBy("id", "desc")
    .limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  if (status) q.andWhere("status", status);
  if (visibleOnly) q.whereNull("compat_deleted_at");
  return q;
}

/** Moves the batch to `to` only while it is in one of `from`; true when it moved. */
export async function moveBatchStatus(
  db: Db,
  id: string,
  from: readonly BatchStatus[],
  to: BatchStatus,
  also: Record<string, unknown> = {},
): Promise<boolean> {
  const n = await db("batches")
    .where({ id })
    .whereIn("status", from)
    .update({ status: to, ...also, updated_at: db.fn.now() });
  return n > 0;
}

/** Not terminal and untouched for `staleAfterSeconds`, oldest first. */
export async function staleBatches(
  db: Db,
  terminal: readonly BatchStatus[],
  staleAfterSeconds: number,
  limit: number,
): Promise<Pick<BatchRow, "id" | "status">[]> {
  return db("batches")
    .whereNotIn("status", terminal)
    .andWhere("updated_at", "<", db.raw("now() - make_interval(secs => ?)", [staleAfterSeconds]))
    .orderBy("updated_at")
    .limit(limit)
    .select("id", "status");
}

/** Marks the batch as just seen (its `updated_at`), without changing it. */
export async function touchBatch(db: Db, id: string): Promise<void> {
  await db("batches").where({ id }).update({ updated_at: db.fn.now() });
}

export async function addRouteEvent(db: Db, batchId: string, kind: string, details: Record<string, unknown>): Promise<void> {
  await db("route_events").insert({ batch_id: batchId, kind, details: json(details) });
}

export async function routeEvents(db: Db, batchId: string) {
  return db("route_events").where({ batch_id: batchId }).orderBy("id").select("kind", "details", "at");
}

/**
 * Takes a transaction-scoped advisory lock named `key` if it is free: true when this transaction
 * now holds it (released with the transaction, so a crash frees it), false when another does.
 */
export async function tryTransactionLock(trx: Db, key: string): Promise<boolean> {
  const { rows } = await trx.raw("SELECT pg_try_advisory_xact_lock(hashtext(?)) AS ok", [key]);
  return Boolean(rows[0]?.ok);
}

/** A page of the org's batches newer than `afterId`, oldest first (a list paged backwards), not deleted through a compatible surface. */
export async function listNewerBatches(db: Db, orgId: string, environment: string, afterId: string, limit: number): Promise<BatchRow[]> {
  return db<BatchRow>("batches")
    .where({ org_id: orgId, environment: environment as BatchRow["environment"] })
    .whereNull("compat_deleted_at")
    .andWhere("id", ">", afterId)
    .orderBy("id", "asc")
    .limit(limit);
}

/** Records a delete through a compatible surface. */
export async function markCompatDeleted(db: Db, id: string): Promise<void> {
  await db("batches").where({ id }).update({ compat_deleted_at: db.fn.now() });
}
