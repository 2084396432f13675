import { Readable } from "node:stream";
import type { Db } from "../../../db/connection.js";
import { itemCounts } from "../../../db/queries/batch-items.js";
import * as batchesQ from "../../../db/queries/batches.js";
import type { FileRow } from "../../../db/queries/files.js";
import { insertRejectedItems } from "../../../db/queries/rejected-items.js";
import type { Actor } from "../../accounts/actor.js";
import { createBatch, type BatchDeps } from "../../batches/create.js";
import { TERMINAL_STATUSES } from "../../batches/lifecycle.js";
import { createBatchSchema } from "../../batches/schemas.js";
import { cancelBatch, ownBatch, type BatchReadDeps } from "../../batches/service.js";
import { errors, fail, isAppError } from "../../errors.js";
import { deleteFile } from "../../files/service.js";
import { uploadManifest } from "../../files/upload.js";
import { toAnthropicBatch, type AnthropicBatch } from "./batch-object.js";
import { nativeLinesOf, requestError, type RequestStreamLimits, type RequestStreamState } from "./request-stream.js";
import { createRejectedBatch, itemsInRequestOrder, nativeItemCheck, rejectedItems } from "./rejected.js";
import { anthropicResultLine } from "./result-lines.js";

/** Result lines written to the stream at a time. */
const RESULTS_CHUNK = 500;

export async function presentAnthropicBatch(db: Db, row: batchesQ.BatchRow, origin: string): Promise<AnthropicBatch> {
  return toAnthropicBatch(row, row.final_tally?.counts ?? (await itemCounts(db, row.id)), origin);
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
 * Anthropic's create → our create, streamed: each request is validated and translated into a native
 * item as it arrives (request-stream.ts), and the items are stored through the manifest upload (the
 * same checks and streamed storage as any upload) as a file the native create then takes by
 * `input_file_id`, routed like any batch (cheapest, standard). The same batch id on both surfaces.
 * The file is the batch's input manifest, listed with the caller's files; it is removed again when
 * the create is refused.
 */
export async function createAnthropicBatch(
  deps: BatchDeps,
  actor: Actor,
  body: AsyncIterable<Buffer>,
  origin: string,
  opts: CreateOptions = {},
) {
  const snapshot = await deps.catalog.get();
  const state: RequestStreamState = { customIds: [], bytes: 0 };
  // An Idempotency-Key is honoured only with the body's declared hash (as for uploads): it must match.
  const checkHash = async () => {
    if (opts.declaredSha256 && opts.declaredSha256 !== state.sha256)
      throw fail.invalidRequest("x-content-sha256 does not match the body's SHA-256.", { sha256: state.sha256 });
  };
  let file: FileRow;
  try {
    file = await uploadManifest(deps, actor, {
      source: nativeLinesOf(body, snapshot.modelBySlug, state, opts.limits, nativeItemCheck(snapshot)),
      filename: "anthropic-message-batch.jsonl",
      headers: {},
      beforeCommit: checkHash,
    });
  } catch (err) {
    // Read to its end with every request rejected: no manifest to store, and a batch all the same.
    const rejected = state.rejected ?? [];
    if (state.sha256 !== undefined && rejected.length > 0 && rejected.length === state.customIds.length) {
      await checkHash();
      return retrieveAnthropicBatch(deps.db, actor, await createRejectedBatch(deps, actor, rejected), origin);
    }
    throw asRequestError(err, state);
  }
  let created: { id: string };
  try {
    const rejected = state.rejected ?? [];
    created = await createBatch(deps, actor, createBatchSchema.parse({ input_file_id: file.id }), {
      // In the create's transaction: the batch never exists without its errored requests.
      withBatch: rejected.length
        ? (trx, batch) => insertRejectedItems(trx, batch.id, file.item_count!, rejectedItems(rejected))
        : undefined,
    });
  } catch (err) {
    await deleteFile(deps, actor, file.id).catch(() => undefined);
    throw asRequestError(err, state);
  }
  return retrieveAnthropicBatch(deps.db, actor, created.id, origin);
}

export interface CreateOptions {
  /** `x-content-sha256`, when the client declared one. */
  declaredSha256?: string;
  /** Lower limits, for tests. */
  limits?: RequestStreamLimits;
}

/**
 * The native path names a problem by manifest line (the upload) or item index (the create); one
 * request is one line, so both become the request's index and custom_id, as Anthropic's users know it.
 */
function asRequestError(err: unknown, state: RequestStreamState): unknown {
  if (!isAppError(err) || err.status !== 400) return err;
  const first = (err.details?.preflight as { line?: number; message?: string }[] | undefined)?.[0];
  if (first?.line && first.line > 0) return requestError(state, first.line - 1, [], String(first.message));
  const issue = (err.details?.errors as { path?: string; message?: string }[] | undefined)?.[0];
  const m = /^\/items\/(\d+)(\/.*)?$/.exec(issue?.path ?? "");
  if (m) return requestError(state, Number(m[1]), [], `${m[2] ? `${m[2]}: ` : ""}${issue!.message}`);
  return err;
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

/** Every finished item as a JSONL line, in request order (errored requests in their place), in chunks. */
async function* resultLines(db: Db, batchId: string): AsyncGenerator<string> {
  let chunk = "";
  let n = 0;
  for await (const it of itemsInRequestOrder(db, batchId)) {
    chunk += `${JSON.stringify(anthropicResultLine(batchId, it))}\n`;
    if (++n % RESULTS_CHUNK === 0) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/** The results JSONL as a stream, once the batch has ended (before that, 409 as natively). */
export async function openAnthropicResults(db: Db, actor: Actor, id: string): Promise<Readable> {
  const b = await visibleBatch(db, actor, id);
  if (!TERMINAL_STATUSES.has(b.status)) {
    throw fail.resultsNotReady(`Batch ${id} is ${b.status}; results are ready once it has ended.`, { status: b.status });
  }
  return Readable.from(resultLines(db, b.id));
}
