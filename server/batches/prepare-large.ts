import { createHash } from "node:crypto";
import type { NewBatchItem } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { countRejectedItems } from "../../db/queries/rejected-items.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { fileItemChunks } from "../../db/queries/files.js";
import { getQuote, type QuoteRow } from "../../db/queries/quotes.js";
import type { CatalogSnapshot } from "../catalog/store.js";
import type { Operation } from "../catalog/types.js";
import { AppError, fail } from "../errors.js";
import { EventLoopSlices } from "../event-loop-slices.js";
import type { PreflightError } from "../files/manifest-parser.js";
import { jsonPointer } from "../json-pointer.js";
import { type AcceptedItem, ItemValidator, MAX_LISTED_ERRORS } from "../quotes/item-validator.js";
import { estimateRouting } from "../quotes/prepare.js";
import { unroutableError, type resolveConstraints, type UnroutableDetail } from "../quotes/service.js";
import { ItemKinds, RoutingColumns } from "../routing/packed-item.js";
import type { PendingRequest } from "./create-large.js";
import { failPreparation } from "./lifecycle.js";
import {
  addRoutedEvent,
  planFromQuote,
  planNow,
  pricedColumns,
  reserveCredits,
  writeItems,
  writeWorkUnits,
  type BatchDeps,
  type Placement,
} from "./plan.js";

/**
 * `batch.prepare`, a large batch's first step (create-large.ts accepted it as `validating`): reads
 * the stored manifest twice, chunk by chunk, never holding its items — once to validate and size
 * each item (what the router needs of an item is a few numbers), once to write the item rows with
 * their work units by COPY — and in between routes and prices the batch. Then, in one transaction:
 * the reservation, the work units, the items, and the dispatch job (status `pending`). A manifest
 * that fails validation, can't be routed, or can't be paid for ends `failed` with the same error
 * details a synchronous create would have answered, and whatever was reserved is released.
 * Idempotent: a re-run finds the batch past `validating` and returns.
 */
export async function prepareLargeBatch(deps: BatchDeps, batchId: string): Promise<void> {
  await prepareManifest(deps, batchId);
  // Requests a compatible surface rejected at create (stored after the manifest's items, already
  // failed) join the item count once the manifest's are in — or once it failed. Idempotent, so a
  // re-run after a crash here still counts them.
  await countRejectedItems(deps.db, batchId);
}

async function prepareManifest(deps: BatchDeps, batchId: string): Promise<void> {
  const batch = await batchesQ.getBatchById(deps.db, batchId);
  if (batch?.status !== "validating" || !batch.input_file_id) return;
  const pending = batch.pending_request as unknown as PendingRequest;
  try {
    const snapshot = await deps.catalog.get();
    const quote = pending.quote_id ? await getQuote(deps.db, batch.org_id, batch.environment, pending.quote_id) : undefined;
    const itemsQuote = quote && quote.kind !== "volume" ? quote : undefined;
    const scan = await scanManifest(deps, snapshot, batch, pending, itemsQuote !== undefined);
    const plan = itemsQuote
      ? planFromQuote(itemsQuote, scan.fingerprint!)
      : planNow(snapshot, scan, batch.constraints as ReturnType<typeof resolveConstraints>, pending.max_price, quote as QuoteRow);
    scan.routing.clear(); // the plan has what it needs; let the columns go before pass two
    await deps.db.transaction(async (trx) => {
      const locked = await batchesQ.getBatchById(trx, batchId, true);
      if (locked?.status !== "validating") return; // cancelled or expired meanwhile: that path released everything
      if (!pending.reserved_at_create) await reserveCredits(trx, batch, batchId, plan.totals.total);
      await batchesQ.updateBatch(trx, batchId, {
        status: "pending",
        ...pricedColumns(plan),
        estimated_input_tokens: scan.tokens.input,
        estimated_output_tokens: scan.tokens.output,
        pending_request: null,
      });
      const placed = await writeWorkUnits(trx, batchId, snapshot, plan, batch.environment, batch.item_count);
      await writeItems(trx, batch.item_count, itemRows(deps, snapshot, batch, pending, placed, scan.kept));
      await addRoutedEvent(trx, batchId, quote?.id ?? null, plan);
      await deps.jobs.send(trx, "dispatch", { batch_id: batchId });
    });
  } catch (err) {
    // The customer's problem (bad items, no lane, no funds, a changed file): the batch ends failed
    // with it. Anything else is ours: the job retries.
    if (err instanceof AppError) {
      const named = await withItemIds(deps, batch.input_file_id, err);
      return failPreparation(deps, batchId, { code: named.code, message: named.message, details: named.details });
    }
    throw err;
  }
}

/**
 * The router ran without the items' ids (scanManifest): a 422 naming items it couldn't serve gets
 * them from the manifest — one more read of it, on this failure path only.
 */
async function withItemIds(deps: BatchDeps, fileId: string, err: AppError): Promise<AppError> {
  const listed = (err.details as { items?: UnroutableDetail[]; unroutable_count?: number } | undefined)?.items;
  if (err.code !== "no_eligible_lane" || !listed?.length) return err;
  const wanted = new Map(listed.map((u) => [u.index, u]));
  for await (const chunk of fileItemChunks(deps.db, fileId)) {
    for (let j = 0; j < chunk.items.length; j++) {
      const u = wanted.get(chunk.first_idx + j);
      const raw = chunk.items[j] as { customer_item_id?: unknown; custom_id?: unknown } | undefined;
      const id = raw?.customer_item_id ?? raw?.custom_id;
      if (u && typeof id === "string") u.customer_item_id = id;
    }
  }
  return unroutableError((err.details as { unroutable_count: number }).unroutable_count, listed);
}

interface Scan {
  /** Without the items' ids: a million are ~40 MB the router only needs to name items it can't route. */
  routing: RoutingColumns;
  /**
   * The validated items in manifest order, when the manifest has at most
   * BATCHROUTER_PREPARE_KEEP_ITEMS: pass two then writes them without reading and checking the
   * manifest again (~100 ms of a 10,000-line file's preparation).
   */
  kept?: AcceptedItem[];
  tokens: { input: number; output: number };
  /** itemsFingerprint of the normalised items, when asked (a quote made for this file). */
  fingerprint?: string;
}

const validatorFor = (snapshot: CatalogSnapshot, pending: PendingRequest) =>
  new ItemValidator(
    snapshot,
    { operation: pending.operation as Operation | undefined, model: pending.model },
    // The upload refused duplicate ids already; a million-entry map would cost ~100 MB.
    { checkDuplicates: false, name: (i) => `item ${i}` },
  );

/** Pass one: every item checked against the catalog as it is now and sized for the router. */
async function scanManifest(deps: BatchDeps, snapshot: CatalogSnapshot, batch: BatchRow, pending: PendingRequest, fingerprint: boolean) {
  const validator = validatorFor(snapshot, pending);
  const preflight: PreflightError[] = [];
  const hash = fingerprint ? createHash("sha256").update("[") : null;
  const scan: Scan = {
    routing: new RoutingColumns(batch.item_count, false),
    tokens: { input: 0, output: 0 },
    kept: batch.item_count <= deps.config.BATCHROUTER_PREPARE_KEEP_ITEMS ? [] : undefined,
  };
  const kinds = new ItemKinds(); // shared by every chunk's items
  const slices = new EventLoopSlices();
  let seen = 0;
  for await (const chunk of fileItemChunks(deps.db, batch.input_file_id!)) {
    await slices.pause(); // the next chunk is often read already: let waiting requests in
    const accepted = [];
    const before = validator.problems.length;
    for (let j = 0; j < chunk.items.length; j++) {
      const ok = validator.check(chunk.items[j], chunk.first_idx + j);
      if (!ok) continue;
      accepted.push(ok);
      // JSON.stringify of the array, one element at a time: the quote's itemsFingerprint.
      hash?.update(`${chunk.first_idx + j > 0 ? "," : ""}${JSON.stringify(ok.item)}`);
    }
    for (const p of validator.problems.slice(before)) {
      const raw = chunk.items[p.index - chunk.first_idx] as { customer_item_id?: unknown; custom_id?: unknown } | undefined;
      const id = raw?.customer_item_id ?? raw?.custom_id;
      preflight.push({
        line: chunk.lines[p.index - chunk.first_idx]!,
        ...(typeof id === "string" ? { item: id } : {}),
        code: "invalid_item",
        message: `${p.path.length ? `${jsonPointer(p.path)}: ` : ""}${p.message}`,
      });
    }
    seen += chunk.items.length;
    if (validator.full) break;
    if (preflight.length > 0) continue; // still looking for problems, no longer sizing
    if (scan.kept) for (const ok of accepted) scan.kept.push(ok);
    const sized = await estimateRouting(snapshot, accepted, chunk.first_idx, scan.routing, chunk.items.length / batch.item_count, kinds);
    scan.tokens.input += sized.tokens.input;
    scan.tokens.output += sized.tokens.output;
  }
  if (preflight.length > 0) {
    const first = preflight[0]!;
    throw fail.preflightFailed(
      `The manifest can't be run: line ${first.line}: ${first.message}${preflight.length > 1 ? ` (and ${preflight.length - 1} more${validator.full ? `; the first ${MAX_LISTED_ERRORS} are listed` : ""})` : ""}.`,
      { preflight },
    );
  }
  if (seen !== batch.item_count) throw fail.preflightFailed(`The input file changed: ${seen} items read of ${batch.item_count}.`, {});
  scan.fingerprint = hash?.update("]").digest("hex");
  return scan;
}

/** Pass two: the item rows, normalised as in pass one, placed on their work units. */
async function* itemRows(
  deps: BatchDeps,
  snapshot: CatalogSnapshot,
  batch: BatchRow,
  pending: PendingRequest,
  placed: Placement,
  kept: AcceptedItem[] | undefined,
): AsyncGenerator<NewBatchItem> {
  const row = (ok: AcceptedItem, idx: number): NewBatchItem => ({
    batch_id: batch.id,
    idx,
    customer_item_id: ok.item.customer_item_id,
    operation: ok.operation,
    models: ok.models,
    item: ok.item as unknown as Record<string, unknown>,
    ...placed(idx),
    status: "queued",
  });
  if (kept) {
    for (let idx = 0; idx < kept.length; idx++) yield row(kept[idx]!, idx);
    return;
  }
  const validator = validatorFor(snapshot, pending);
  const slices = new EventLoopSlices();
  for await (const chunk of fileItemChunks(deps.db, batch.input_file_id!)) {
    await slices.pause();
    for (let j = 0; j < chunk.items.length; j++) {
      const idx = chunk.first_idx + j;
      const ok = validator.check(chunk.items[j], idx);
      if (!ok) throw new Error(`item ${idx} of batch ${batch.id} passed validation once and not twice`);
      yield row(ok, idx);
    }
  }
}
