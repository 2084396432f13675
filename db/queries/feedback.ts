import type { Db } from "../connection.js";

/** A batch item's workload: its operation and the model it asked for ("responses:gpt-4o-mini"). */
export const WORKLOAD_SQL = "operation || ':' || coalesce(models->>0, split_part(lane_id, '/', 2))";

/** Queries of the feedback and lane_quality tables (migration 0004) and the item aggregates they are built from. */

export interface FeedbackRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  batch_id: string;
  score: number;
  label: "accepted" | "rejected" | null;
  customer_item_ids: string[] | null;
  reason: string | null;
  created_at: Date;
}

export interface LaneQualityRow {
  lane_id: string;
  workload: string;
  feedback_count: number;
  score_sum: number;
  items_rated: number;
  updated_at: Date;
}

/** Items of a batch among `ids` (any status); `= ANY(array)` keeps it one bind parameter however many ids. */
export async function itemsByCustomerId(db: Db, batchId: string, ids: string[]): Promise<{ customer_item_id: string; status: string }[]> {
  return db("batch_items")
    .where({ batch_id: batchId })
    .andWhereRaw("customer_item_id = ANY(?::text[])", [ids])
    .select("customer_item_id", "status");
}

/** Completed items per (lane, workload): what a feedback rates, and whom it credits. */
export async function completedByLaneWorkload(
  db: Db,
  batchId: string,
  ids: string[] | null,
): Promise<{ lane_id: string; workload: string; items: number }[]> {
  const q = db("batch_items")
    .where({ batch_id: batchId, status: "completed" })
    .whereNotNull("lane_id")
    .select("lane_id", db.raw(`${WORKLOAD_SQL} AS workload`), db.raw("count(*)::int AS items"))
    .groupByRaw("1, 2")
    .orderByRaw("1, 2");
  if (ids) q.andWhereRaw("customer_item_id = ANY(?::text[])", [ids]);
  return q;
}

/** Every item a lane served in a batch, by workload and outcome: the attribution slice. */
export async function servedByLaneWorkload(db: Db, batchId: string) {
  return db("batch_items")
    .where({ batch_id: batchId })
    .whereNotNull("lane_id")
    .select(
      "lane_id",
      db.raw(`${WORKLOAD_SQL} AS workload`),
      db.raw("count(*)::int AS items"),
      db.raw("count(*) FILTER (WHERE status = 'completed')::int AS completed"),
      db.raw("count(*) FILTER (WHERE status = 'failed')::int AS failed"),
    )
    .groupByRaw("1, 2")
    .orderByRaw("1, 2") as Promise<{ lane_id: string; workload: string; items: number; completed: number; failed: number }[]>;
}

export async function insertFeedback(db: Db, row: Omit<FeedbackRow, "created_at">): Promise<FeedbackRow> {
  const [inserted] = await db("feedback")
    .insert({ ...row, customer_item_ids: row.customer_item_ids === null ? null : JSON.stringify(row.customer_item_ids) })
    .returning("*");
  return inserted as FeedbackRow;
}

/**
 * Adds one feedback to each (lane, workload) it touched. One statement, rows in key order, so two
 * feedbacks touching the same rows lock them in the same order and can't deadlock.
 */
export async function addToLaneQuality(db: Db, rows: { lane_id: string; workload: string; score: number; items: number }[]): Promise<void> {
  if (rows.length === 0) return;
  const sorted = [...rows].sort((a, b) =>
    a.lane_id === b.lane_id ? a.workload.localeCompare(b.workload) : a.lane_id.localeCompare(b.lane_id),
  );
  await db("lane_quality")
    .insert(sorted.map((r) => ({ lane_id: r.lane_id, workload: r.workload, feedback_count: 1, score_sum: r.score, items_rated: r.items })))
    .onConflict(["lane_id", "workload"])
    .merge({
      feedback_count: db.raw("lane_quality.feedback_count + excluded.feedback_count"),
      score_sum: db.raw("lane_quality.score_sum + excluded.score_sum"),
      items_rated: db.raw("lane_quality.items_rated + excluded.items_rated"),
      updated_at: db.fn.now(),
    });
}

export async function laneQualityOf(db: Db, pairs: { lane_id: string; workload: string }[]): Promise<LaneQualityRow[]> {
  if (pairs.length === 0) return [];
  return db<LaneQualityRow>("lane_quality").whereRaw("(lane_id, workload) IN (SELECT * FROM unnest(?::text[], ?::text[]))", [
    pairs.map((p) => p.lane_id),
    pairs.map((p) => p.workload),
  ]);
}

export async function feedbackSummary(db: Db, batchId: string) {
  const row = await db("feedback")
    .where({ batch_id: batchId })
    .first(
      db.raw("count(*)::int AS count"),
      db.raw("avg(score) AS mean_score"),
      db.raw("count(*) FILTER (WHERE label = 'accepted')::int AS accepted"),
      db.raw("count(*) FILTER (WHERE label = 'rejected')::int AS rejected"),
    );
  return row as { count: number; mean_score: number | null; accepted: number; rejected: number };
}

export async function recentFeedback(db: Db, batchId: string, limit: number): Promise<FeedbackRow[]> {
  return db<FeedbackRow>("feedback").where({ batch_id: batchId }).orderBy("id", "desc").limit(limit);
}
