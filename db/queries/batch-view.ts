import type { Db } from "../connection.js";
import { OPEN_ITEM_STATUSES } from "./batch-items.js";
import type { BatchRow, ItemTally } from "./batches.js";

export type { ItemTally } from "./batches.js";

/**
 * A batch of an org and environment with its item tally, in one statement: the poll's read. The
 * items are grouped once (by lane and status) and both tallies are built from those groups; lanes
 * come ordered by id so the same state always presents the same JSON (and the same ETag).
 */
export async function getBatchView(
  db: Db,
  orgId: string,
  environment: string,
  id: string,
): Promise<{ row: BatchRow; tally: ItemTally } | undefined> {
  const { rows } = await db.raw<{ rows: (BatchRow & { item_counts: Record<string, number>; lane_counts: ItemTally["lanes"] })[] }>(
    `WITH b AS (SELECT * FROM batches WHERE id = ? AND org_id = ? AND environment = ?),
          g AS (SELECT lane_id, status, count(*)::int AS n FROM batch_items
                 WHERE batch_id IN (SELECT id FROM b WHERE final_tally IS NULL) GROUP BY lane_id, status)
     SELECT b.*,
       (SELECT coalesce(json_object_agg(status, n), '{}'::json)
          FROM (SELECT status, sum(n)::int AS n FROM g GROUP BY status) s) AS item_counts,
       (SELECT coalesce(json_agg(l ORDER BY l.lane_id), '[]'::json)
          FROM (SELECT lane_id, sum(n)::int AS item_count, (coalesce(sum(n) FILTER (WHERE status = ANY(?::text[])), 0))::int AS open
                  FROM g GROUP BY lane_id) l) AS lane_counts
     FROM b`,
    [id, orgId, environment, [...OPEN_ITEM_STATUSES]],
  );
  const found = rows[0];
  if (!found) return undefined;
  const { item_counts, lane_counts, ...row } = found;
  // A finished batch's items were counted as it ended (and aren't counted again above).
  return { row: row as BatchRow, tally: found.final_tally ?? { counts: item_counts, lanes: lane_counts } };
}

/** The tally of a batch whose row the caller has: the one kept as it ended, or counted now. */
export async function tallyOf(db: Db, row: Pick<BatchRow, "id" | "final_tally">): Promise<ItemTally> {
  return row.final_tally ?? getItemTally(db, row.id);
}

/**
 * A batch's item tally alone (the second half of getBatchView), for a caller that has the row.
 * `withTokens`: with the tokens its items used, summed in the same pass (the tally kept as a batch
 * ends: the OpenAI surface shows them as `usage`).
 */
export async function getItemTally(db: Db, batchId: string, opts: { withTokens?: boolean } = {}): Promise<ItemTally> {
  const { rows } = await db.raw<{
    rows: { item_counts: Record<string, number>; lane_counts: ItemTally["lanes"]; input: number | null; output: number | null }[];
  }>(
    `WITH g AS (SELECT lane_id, status, count(*)::int AS n${opts.withTokens ? ", sum(input_tokens) AS it, sum(output_tokens) AS ot" : ""}
                  FROM batch_items WHERE batch_id = ? GROUP BY lane_id, status)
     SELECT
       (SELECT coalesce(json_object_agg(status, n), '{}'::json)
          FROM (SELECT status, sum(n)::int AS n FROM g GROUP BY status) s) AS item_counts,
       (SELECT coalesce(json_agg(l ORDER BY l.lane_id), '[]'::json)
          FROM (SELECT lane_id, sum(n)::int AS item_count, (coalesce(sum(n) FILTER (WHERE status = ANY(?::text[])), 0))::int AS open
                  FROM g GROUP BY lane_id) l) AS lane_counts
       ${opts.withTokens ? ", (SELECT coalesce(sum(it), 0)::float8 FROM g) AS input, (SELECT coalesce(sum(ot), 0)::float8 FROM g) AS output" : ""}`,
    [batchId, [...OPEN_ITEM_STATUSES]],
  );
  const r = rows[0]!;
  const tally: ItemTally = { counts: r.item_counts, lanes: r.lane_counts };
  if (opts.withTokens) tally.tokens = { input: r.input ?? 0, output: r.output ?? 0 };
  return tally;
}
