import { Readable } from "node:stream";
import type { Db } from "../../../db/connection.js";
import { itemCounts, resultsPage } from "../../../db/queries/batch-items.js";
import * as batchesQ from "../../../db/queries/batches.js";
import type { Actor } from "../../accounts/actor.js";
import { createBatch, type BatchDeps } from "../../batches/create.js";
import { RESULT_STATUSES, TERMINAL_STATUSES } from "../../batches/lifecycle.js";
import { createBatchSchema } from "../../batches/schemas.js";
import { cancelBatch, ownBatch, type BatchReadDeps } from "../../batches/service.js";
import { errors, fail } from "../../errors.js";
import { validationError } from "../../validation.js";
import { toAnthropicBatch, type AnthropicBatch } from "./batch-object.js";
import { toNativeItem, type AnthropicCreateBatch } from "./create-request.js";
import { anthropicResultLine } from "./result-lines.js";

/** Items read per query while streaming results: memory stays flat whatever the batch's size. */
const RESULTS_PAGE = 500;

export async function presentAnthropicBatch(db: Db, row: batchesQ.BatchRow, origin: string): Promise<AnthropicBatch> {
  return toAnthropicBatch(row, await itemCounts(db, row.id), origin);
}

/** The caller's batch as this surface sees it: one deleted here is gone (404), as at Anthropic. */
async function visibleBatch(db: Db, actor: Actor, id: string): Promise<batchesQ.BatchRow> {
  const b = await ownBatch(db, actor, id);
  if (b.compat_deleted_at) throw errors.notFound("batch");
  return b;
}

export async function retrieveAnthropicBatch(db: Db, actor: Actor, id: string, origin: string) {
  return presentAnthropicBatch(db, await visibleBatch(db, actor, id), origin);
}

/**
 * Anthropic's create → our create: one native item per request, routed like any batch (cheapest,
 * standard), credits reserved at once; the same batch id on both surfaces.
 */
export async function createAnthropicBatch(deps: BatchDeps, actor: Actor, body: AnthropicCreateBatch, origin: string) {
  const snapshot = await deps.catalog.get();
  const request = createBatchSchema.safeParse({ items: body.requests.map((r) => toNativeItem(r, snapshot.modelBySlug)) });
  if (!request.success) throw validationError("body", request.error);
  const created = await createBatch(deps, actor, request.data);
  return retrieveAnthropicBatch(deps.db, actor, created.id, origin);
}

/**
 * Anthropic's cursor page, newest first: `after_id` pages to older batches (the SDK's
 * auto-pagination passes the last id seen), `before_id` to newer ones (it passes the first).
 */
export async function listAnthropicBatches(
  db: Db,
  actor: Actor,
  q: { limit: number; after_id?: string; before_id?: string },
  origin: string,
) {
  let rows: batchesQ.BatchRow[];
  if (q.before_id) {
    // Newer than before_id: the ones just above it, read upwards and then put newest first.
    rows = await batchesQ.listNewerBatches(db, actor.org_id, actor.environment, q.before_id, q.limit + 1);
  } else {
    rows = await batchesQ.listBatches(db, actor.org_id, actor.environment, q.limit + 1, q.after_id, undefined, true);
  }
  const has_more = rows.length > q.limit;
  const kept = rows.slice(0, q.limit);
  if (q.before_id) kept.reverse();
  const data = await Promise.all(kept.map((b) => presentAnthropicBatch(db, b, origin)));
  return { data, has_more, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
}

/** Cancels as the native endpoint does (a batch that has ended → 409), answering Anthropic's batch object. */
export async function cancelAnthropicBatch(deps: BatchReadDeps, actor: Actor, id: string, origin: string) {
  await visibleBatch(deps.db, actor, id);
  await cancelBatch(deps, actor, id);
  return retrieveAnthropicBatch(deps.db, actor, id, origin);
}

/**
 * Anthropic deletes only batches that have ended. Here the batch is gone from this surface (404 on
 * retrieve, results, cancel and a second delete; out of its lists); the row itself stays, since its
 * ledger entries, receipts and the native `GET /v1/batches/{id}` depend on it.
 */
export async function deleteAnthropicBatch(db: Db, actor: Actor, id: string) {
  const b = await visibleBatch(db, actor, id);
  if (!TERMINAL_STATUSES.has(b.status)) {
    throw fail.invalidRequest(`Batch ${id} is still ${b.status}; cancel it and wait for it to end before deleting it.`);
  }
  await batchesQ.markCompatDeleted(db, b.id);
  return { id: b.id, type: "message_batch_deleted" as const };
}

/** Every finished item as a JSONL line, read page by page in manifest order. */
async function* resultLines(db: Db, batchId: string): AsyncGenerator<string> {
  let after = -1;
  for (;;) {
    const page = await resultsPage(db, batchId, after, RESULTS_PAGE, RESULT_STATUSES);
    if (page.length === 0) return;
    yield page.map((it) => `${JSON.stringify(anthropicResultLine(batchId, it))}\n`).join("");
    if (page.length < RESULTS_PAGE) return;
    after = page[page.length - 1]!.idx;
  }
}

/** The results JSONL as a stream, once the batch has ended (before that, 409 as natively). */
export async function openAnthropicResults(db: Db, actor: Actor, id: string): Promise<Readable> {
  const b = await visibleBatch(db, actor, id);
  if (!TERMINAL_STATUSES.has(b.status)) {
    throw fail.resultsNotReady(`Batch ${id} is ${b.status}; results are ready once it has ended.`, { status: b.status });
  }
  return Readable.from(resultLines(db, b.id));
}
