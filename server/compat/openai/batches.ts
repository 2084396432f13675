import type { Db } from "../../../db/connection.js";
import * as batchesQ from "../../../db/queries/batches.js";
import { firstFileItem } from "../../../db/queries/files.js";
import type { Actor } from "../../accounts/actor.js";
import { FinishedBatchCache } from "../../batches/finished-batch-cache.js";
import { cancelBatch, ownBatch, type BatchReadDeps } from "../../batches/service.js";
import { splitPage } from "../../pagination.js";
import { endpointOf } from "./result-lines.js";
import { toOpenAiBatch, type OpenAiBatch } from "./batch-object.js";

/** OpenAI's cursor page: `{object: "list", data, first_id, last_id, has_more}`; `after` is the last id seen. */
export function listPage<T extends { id: string }>(data: T[], has_more: boolean) {
  return { object: "list" as const, data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more };
}

/**
 * The endpoint and model of a batch's items: the first item's (every line of one batch targets the
 * same endpoint). A batch still `validating` has no item rows yet: its input file's first item then.
 */
async function firstItem(db: Db, row: batchesQ.BatchRow) {
  if (row.status === "validating" && row.input_file_id) {
    const item = await firstFileItem(db, row.input_file_id);
    return {
      endpoint: endpointOf(typeof item?.operation === "string" ? item.operation : "responses", item?.input, item?.metadata),
      model: typeof item?.model === "string" ? item.model : null,
    };
  }
  const batchId = row.id;
  const first = await db("batch_items")
    .where({ batch_id: batchId })
    .orderBy("idx")
    .first<{ operation: string; input: unknown; metadata: unknown; model: string | null } | undefined>(
      "operation",
      db.raw("item -> 'input' AS input"),
      db.raw("item -> 'metadata' AS metadata"),
      db.raw("item ->> 'model' AS model"),
    );
  return { endpoint: endpointOf(first?.operation ?? "responses", first?.input, first?.metadata), model: first?.model ?? null };
}

/** Item counts by status and the tokens used, in one pass over the batch's items. */
async function itemTotals(db: Db, batchId: string) {
  const rows: { status: string; n: number; input: number; output: number }[] = await db("batch_items")
    .where({ batch_id: batchId })
    .groupBy("status")
    .select(
      "status",
      db.raw("count(*)::int AS n"),
      db.raw("coalesce(sum(input_tokens), 0)::float8 AS input"),
      db.raw("coalesce(sum(output_tokens), 0)::float8 AS output"),
    );
  const counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  const tokens = { input: rows.reduce((t, r) => t + r.input, 0), output: rows.reduce((t, r) => t + r.output, 0) };
  return { counts, tokens };
}

async function presentWithCounts(db: Db, row: batchesQ.BatchRow) {
  // A finished batch's counts and tokens were kept as it ended (lifecycle.ts finish).
  const kept = row.final_tally?.tokens ? { counts: row.final_tally.counts, tokens: row.final_tally.tokens } : undefined;
  const [{ counts, tokens }, { endpoint, model }] = await Promise.all([kept ?? itemTotals(db, row.id), firstItem(db, row)]);
  return { batch: toOpenAiBatch({ row, counts, endpoint, model, tokens }), counts };
}

export async function presentOpenAiBatch(db: Db, row: batchesQ.BatchRow): Promise<OpenAiBatch> {
  return (await presentWithCounts(db, row)).batch;
}

const finishedBatches = new WeakMap<Db, FinishedBatchCache>();

/**
 * batches.retrieve. A finished batch is answered from the process's FinishedBatchCache for a second
 * (as the native poll is): an SDK that goes on polling after `completed`, or reads the batch again
 * for its file ids, costs no query; a batch still running is read fresh every time.
 */
export async function retrieveOpenAiBatch(db: Db, actor: Actor, id: string): Promise<OpenAiBatch> {
  let finished = finishedBatches.get(db);
  if (!finished) finishedBatches.set(db, (finished = new FinishedBatchCache()));
  const cached = finished.get(actor.org_id, actor.environment, id);
  // A copy: the caller owns the object it gets, the cache keeps its own.
  if (cached) return { ...(cached.batch as OpenAiBatch) };
  const row = await ownBatch(db, actor, id);
  const { batch, counts } = await presentWithCounts(db, row);
  // The cache's test of "finished" reads only the counts by status.
  finished.offer(row, { counts, lanes: [] }, batch);
  return { ...batch };
}

export async function listOpenAiBatches(db: Db, actor: Actor, q: { limit: number; after?: string }) {
  const rows = await batchesQ.listBatches(db, actor.org_id, actor.environment, q.limit + 1, q.after, undefined);
  const { kept, has_more } = splitPage(rows, q.limit, (b) => b.id);
  return listPage(await Promise.all(kept.map((b) => presentOpenAiBatch(db, b))), has_more);
}

/** Cancels as the native endpoint does (a terminal batch → 409), answering OpenAI's batch object. */
export async function cancelOpenAiBatch(deps: BatchReadDeps, actor: Actor, id: string) {
  await cancelBatch(deps, actor, id);
  return retrieveOpenAiBatch(deps.db, actor, id);
}
