import type { Db, Trx } from "../connection.js";
import { BinaryCopy } from "../copy-binary.js";

/**
 * The values `batch_items.status` takes (their meaning: server/batches/lifecycle.ts). `retry`: the
 * item failed retryably and waits for its next attempt. `OPEN_ITEM_STATUSES` are the ones that still
 * have work ahead — a batch is done when none of its items is in one.
 */
export const ITEM_STATUSES = ["queued", "processing", "retry", "completed", "failed", "cancelled", "expired"] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];
export const OPEN_ITEM_STATUSES: readonly ItemStatus[] = ["queued", "processing", "retry"];

export interface BatchItemRow {
  batch_id: string;
  idx: number;
  customer_item_id: string;
  operation: string;
  models: string[];
  item: Record<string, unknown>;
  work_unit_id: string | null;
  lane_id: string | null;
  status: ItemStatus;
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

export type NewBatchItem = Pick<
  BatchItemRow,
  "batch_id" | "idx" | "customer_item_id" | "operation" | "models" | "item" | "work_unit_id" | "lane_id" | "status"
>;
const BATCH_ITEM_COLUMNS = ["batch_id", "idx", "customer_item_id", "operation", "models", "item", "work_unit_id", "lane_id", "status"];

/**
 * Writes a batch's items with a binary COPY in the caller's transaction: 100,000 items take ~1 s
 * this way against ~4 s as multi-row INSERTs (which knex must build and PostgreSQL plan).
 */
export async function insertItems(trx: Trx, rows: Iterable<NewBatchItem> | AsyncIterable<NewBatchItem>): Promise<number> {
  const copy = await BinaryCopy.start(trx, "batch_items", BATCH_ITEM_COLUMNS);
  try {
    for await (const r of rows) {
      copy.rows.row(9).text(r.batch_id).int4(r.idx).text(r.customer_item_id).text(r.operation).jsonb(json(r.models));
      // `item` is json (migration 0018), whose binary form is its text.
      copy.rows.text(json(r.item));
      if (r.work_unit_id === null) copy.rows.null();
      else copy.rows.text(r.work_unit_id);
      if (r.lane_id === null) copy.rows.null();
      else copy.rows.text(r.lane_id);
      copy.rows.text(r.status);
      if (copy.rows.bytes >= 1024 * 1024) await copy.flush();
    }
    return await copy.end();
  } catch (err) {
    await copy.abort();
    throw err;
  }
}

/**
 * Runs a keyset page so that it walks the primary key in order and stops at its LIMIT. A batch is
 * usually newer than the table's statistics, so the planner guesses a few hundred rows for it and
 * picks a bitmap scan of every remaining item plus a sort — on each page: 0.5 s a page, spilling
 * to disk, on a 100,000-item batch. Without sorts or bitmap scans to choose, it walks the index.
 * Call it with the pool, not inside a transaction: there the settings would last to its end.
 */
async function inKeyOrder<T>(db: Db, page: (trx: Db) => Promise<T>): Promise<T> {
  if ((db as { isTransaction?: boolean }).isTransaction) throw new Error("inKeyOrder runs its own transaction: call it with the pool");
  return db.transaction(async (trx) => {
    await trx.raw("SET LOCAL enable_sort = off");
    await trx.raw("SET LOCAL enable_bitmapscan = off");
    return page(trx);
  });
}

export async function itemCounts(db: Db, batchId: string): Promise<Record<string, number>> {
  const rows = await db("batch_items").where({ batch_id: batchId }).groupBy("status").select("status", db.raw("count(*)::int AS n"));
  return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
}

export async function laneSummary(db: Db, batchId: string) {
  return db("batch_items")
    .where({ batch_id: batchId })
    .groupBy("lane_id")
    .select(
      "lane_id",
      db.raw("count(*)::int AS item_count"),
      db.raw(`count(*) FILTER (WHERE status IN (${OPEN_ITEM_STATUSES.map((s) => `'${s}'`).join(",")}))::int AS open`),
      db.raw("coalesce(sum(input_tokens),0)::bigint AS input_tokens"),
      db.raw("coalesce(sum(output_tokens),0)::bigint AS output_tokens"),
      db.raw("coalesce(sum(cost_micros) FILTER (WHERE settled),0)::bigint AS provider_cost"),
      db.raw("count(*) FILTER (WHERE status = 'completed')::int AS completed"),
      db.raw("count(*) FILTER (WHERE status = 'failed')::int AS failed"),
    ) as Promise<
    {
      lane_id: string | null;
      item_count: number;
      open: number;
      input_tokens: number;
      output_tokens: number;
      provider_cost: number;
      completed: number;
      failed: number;
    }[]
  >;
}

/** Keyset page of items in one of `statuses`, in manifest order: the last page costs what the first does. */
export async function resultsPage(
  db: Db,
  batchId: string,
  afterIdx: number,
  limit: number,
  statuses: readonly ItemStatus[],
): Promise<BatchItemRow[]> {
  return inKeyOrder(db, async (trx) =>
    trx<BatchItemRow>("batch_items")
      .where({ batch_id: batchId })
      .andWhere("idx", ">", afterIdx)
      .whereIn("status", statuses)
      .orderBy("idx")
      .limit(limit),
  );
}

/** What a provider request is built from: every item a work unit was submitted with, in manifest order. */
export type RequestItem = Pick<BatchItemRow, "batch_id" | "idx" | "customer_item_id" | "operation" | "item" | "attempts"> & {
  status?: ItemStatus;
};

export async function requestItemsOfWorkUnit(db: Db, workUnitId: string): Promise<RequestItem[]> {
  return db("batch_items")
    .where({ work_unit_id: workUnitId })
    .orderBy("idx")
    .select("batch_id", "idx", "customer_item_id", "operation", "item", "attempts", "status");
}

/** The columns of a RequestItem (what a provider request is built from). */
const REQUEST_COLUMNS = "batch_id, idx, customer_item_id, operation, item, attempts";

/**
 * Marks a work unit's queued items processing, counting the attempt, and returns every item it
 * has processing, in manifest order: those just marked and any marked by an earlier run that
 * crashed before the provider took them (`startedBefore`: the provider may hold that run's job).
 * One statement rather than an UPDATE and a SELECT over the same 50,000 rows: the SELECT half reads
 * the table as it was, so nothing comes back twice. Only a request's columns come back (every
 * column was 40 % of this statement's time, each sent as text and parsed again here).
 */
export async function startItemsOfWorkUnit(db: Db, workUnitId: string): Promise<{ items: RequestItem[]; startedBefore: boolean }> {
  const { rows } = await db.raw(
    `WITH started AS (
       UPDATE batch_items SET status = 'processing', attempts = attempts + 1
        WHERE work_unit_id = ? AND status = 'queued'
       RETURNING ${REQUEST_COLUMNS})
     SELECT *, false AS earlier FROM started
     UNION ALL
     SELECT ${REQUEST_COLUMNS}, true AS earlier FROM batch_items WHERE work_unit_id = ? AND status = 'processing'`,
    [workUnitId, workUnitId],
  );
  const items = rows as (RequestItem & { earlier: boolean })[];
  return { items: items.sort((a, b) => a.idx - b.idx), startedBefore: items.some((r) => r.earlier) };
}

/**
 * Whether any item of the batch is still open (has work ahead). Asked each time a work unit closes,
 * so it must stay cheap on a million items: a scan of the batch in manifest order walks every
 * finished item before the first open one — late in a big batch, most of it, once per unit
 * (quadratic: 74 ms a call at 100,000 items). A unit still running almost always holds open items,
 * found through the work-unit index at its first rows; only when none does is the batch scanned.
 */
export async function hasOpenItems(db: Db, batchId: string): Promise<boolean> {
  const inRunningUnit = await db.raw(
    `SELECT 1 FROM work_units w
      WHERE w.batch_id = ? AND w.status IN ('pending', 'submitted')
        AND EXISTS (SELECT 1 FROM batch_items i WHERE i.work_unit_id = w.id AND i.status = ANY(?::text[]))
      LIMIT 1`,
    [batchId, [...OPEN_ITEM_STATUSES]],
  );
  if (inRunningUnit.rows.length > 0) return true;
  return Boolean(await db("batch_items").where({ batch_id: batchId }).whereIn("status", OPEN_ITEM_STATUSES).first(db.raw("1 AS one")));
}

/** Which items to close: a batch's, a unit's, or a batch's that sit in units still `pending`. */
export type ItemScope = { batch_id: string; pending_units_only?: true } | { work_unit_id: string };

function scoped(db: Db, scope: ItemScope) {
  if ("work_unit_id" in scope) return db("batch_items").where({ work_unit_id: scope.work_unit_id });
  const q = db("batch_items").where({ batch_id: scope.batch_id });
  if (scope.pending_units_only)
    q.whereIn("work_unit_id", db("work_units").where({ batch_id: scope.batch_id, status: "pending" }).select("id"));
  return q;
}

/** Ends the scope's items in one of `from` as `to` now, with `error` (undefined: each keeps its own). Returns how many. */
export async function endItems(
  db: Db,
  scope: ItemScope,
  from: readonly ItemStatus[],
  to: ItemStatus,
  error: Record<string, unknown> | undefined,
): Promise<number> {
  const patch: Record<string, unknown> = { status: to, finished_at: db.fn.now() };
  if (error !== undefined) patch.error = json(error);
  return scoped(db, scope).whereIn("status", from).update(patch);
}

/** The manifest positions (idx) of a unit's items in one of `statuses`, with their attempt counts. */
export async function unitItems(db: Db, workUnitId: string, statuses: readonly ItemStatus[]): Promise<{ idx: number; attempts: number }[]> {
  return db("batch_items").where({ work_unit_id: workUnitId }).whereIn("status", statuses).select("idx", "attempts");
}

/** Puts items of the batch into a (new) unit on `laneId`, queued for it. */
export async function assignItems(db: Db, batchId: string, idxs: readonly number[], workUnitId: string, laneId: string): Promise<void> {
  await db("batch_items")
    .where({ batch_id: batchId })
    .whereIn("idx", idxs)
    .update({ work_unit_id: workUnitId, lane_id: laneId, status: "queued" });
}

/** A submit that never reached the provider: its items go back to queued, and the attempt is not counted. */
export async function unstartItems(db: Db, workUnitId: string): Promise<void> {
  await db("batch_items")
    .where({ work_unit_id: workUnitId, status: "processing" })
    .update({ status: "queued", attempts: db.raw("greatest(attempts - 1, 0)") });
}
