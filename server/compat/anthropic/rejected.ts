import type { Db } from "../../../db/connection.js";
import { resultsPage, type BatchItemRow } from "../../../db/queries/batch-items.js";
import * as batchesQ from "../../../db/queries/batches.js";
import { firstRejectedIdx, insertRejectedItems, type RejectedItem } from "../../../db/queries/rejected-items.js";
import type { Actor } from "../../accounts/actor.js";
import { writeArtifacts } from "../../batches/artifacts.js";
import { emitBatchEvent } from "../../batches/events.js";
import { finish, RESULT_STATUSES } from "../../batches/lifecycle.js";
import { deadline, unpricedColumns, type BatchDeps } from "../../batches/plan.js";
import { newId } from "../../ids.js";
import { ItemValidator } from "../../quotes/item-validator.js";
import { liveRoutesFor, resolveConstraints } from "../../quotes/service.js";
import type { CatalogSnapshot } from "../../catalog/store.js";
import { jsonPointer } from "../../json-pointer.js";
import type { NativeItemCheck, RejectedRequest } from "./request-stream.js";

/**
 * Requests of an Anthropic create whose params we can't run. Anthropic validates params per request,
 * after the create: the batch is made, and each such request's result is `errored` with an
 * invalid_request_error. Here they are stored at create as items that already failed (never
 * dispatched, never billed, counted as errored), after the manifest's items.
 */

/** The rejected requests as items: the error an Anthropic client reads as invalid_request_error. */
export const rejectedItems = (rejected: readonly RejectedRequest[]): RejectedItem[] =>
  rejected.map((r) => ({
    request_index: r.index,
    customer_item_id: r.custom_id,
    error: { code: "invalid_input", message: r.message, provider_status: 400 },
  }));

/**
 * The checks the batch's preparation will run on each native item, run on each request as it
 * arrives, so a request that fails them is rejected alone instead of failing the whole batch.
 */
export function nativeItemCheck(snapshot: CatalogSnapshot): NativeItemCheck {
  // Duplicates are the stream's to refuse (a 400 for the whole create, as Anthropic answers).
  const validator = new ItemValidator(snapshot, {}, { checkDuplicates: false, name: (i) => `requests[${i}]` });
  return (item, index) => {
    const before = validator.problems.length;
    if (validator.check(item, index)) return null;
    const p = validator.problems[before];
    validator.problems.length = before; // one request's problems at a time: never `full`
    return p ? `${p.path.length ? `${jsonPointer(p.path)}: ` : ""}${p.message}` : "the request can't be run";
  };
}

/**
 * A create in which every request was rejected: nothing to prepare, route or reserve, so the batch
 * is written ended at once — `failed` natively (every item failed), `ended` with every request
 * `errored` here — with its files written and its webhook told, as any batch that ends.
 */
export async function createRejectedBatch(deps: BatchDeps, actor: Actor, rejected: readonly RejectedRequest[]): Promise<string> {
  const constraints = resolveConstraints({}, liveRoutesFor(deps, actor));
  const batchId = newId("bat");
  const batch = await deps.db.transaction(async (trx) => {
    const row = await batchesQ.insertBatch(trx, {
      id: batchId,
      org_id: actor.org_id,
      environment: actor.environment,
      status: "completing",
      quote_id: null,
      input_file_id: null,
      item_count: rejected.length,
      routing_mode: constraints.routing_mode,
      sla_tier: constraints.sla_tier,
      privacy_tier: constraints.privacy_tier,
      allowed_regions: constraints.allowed_regions,
      ...unpricedColumns(constraints),
      webhook_url: null,
      webhook_secret_enc: null,
      metadata: {},
      estimated_input_tokens: 0,
      estimated_output_tokens: 0,
      sla_deadline: deadline(constraints.sla_tier, new Date()),
      pending_request: null,
    });
    await insertRejectedItems(trx, batchId, 0, rejectedItems(rejected));
    await emitBatchEvent(trx, deps, row, "batch.submitted");
    return row;
  });
  await finish(deps, batchId, await writeArtifacts(deps, batch), null);
  return batchId;
}

/** Items read per query while streaming results: memory stays flat whatever the batch's size. */
const PAGE = 500;

async function* pages(db: Db, batchId: string, after: number, below = Number.POSITIVE_INFINITY): AsyncGenerator<BatchItemRow> {
  for (;;) {
    const page = await resultsPage(db, batchId, after, PAGE, RESULT_STATUSES);
    for (const it of page) {
      if (it.idx >= below) return;
      yield it;
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.idx;
  }
}

/**
 * A finished batch's items in request order. The manifest's items hold idx 0 … n−1 and the rejected
 * ones follow, each knowing its request index; the two runs are merged: a rejected request goes
 * before the manifest item at idx i when its index is at most i plus the rejected requests already
 * placed (the place that item would otherwise take).
 */
export async function* itemsInRequestOrder(db: Db, batchId: string): AsyncGenerator<BatchItemRow> {
  const split = await firstRejectedIdx(db, batchId);
  if (split === null) return yield* pages(db, batchId, -1);
  const rejected = pages(db, batchId, split - 1);
  let next = await rejected.next();
  let placed = 0;
  for await (const it of pages(db, batchId, -1, split)) {
    while (!next.done && Number(next.value.item.request_index) <= it.idx + placed) {
      yield next.value;
      placed++;
      next = await rejected.next();
    }
    yield it;
  }
  for (; !next.done; next = await rejected.next()) yield next.value;
}
