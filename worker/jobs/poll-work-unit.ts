import { requestItemsOfWorkUnit } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { getWorkUnit, updateWorkUnit } from "../../db/queries/work-units.js";
import { noteProgress } from "../../server/batches/events.js";
import { applyOutcomes, type ItemOutcome } from "../../server/batches/settlement.js";
import { MAX_ATTEMPTS } from "../providers/retry-policy.js";
import { type ItemResult, ProviderError, type ProviderJobRef } from "../providers/types.js";
import { closeCollectedUnit, readFailed } from "../../server/batches/unit-outcomes.js";
import { EventLoopSlices } from "../../server/event-loop-slices.js";
import { countItems } from "../../server/metrics/process-metrics.js";
import { adapterForUnit, failureOf, idxOfItemId, pollDelayMs, submitRequest, type BatchWorkerDeps } from "../batch-context.js";

/** Results written and billed per transaction: large enough to amortise, small enough to keep locks short. */
const CHUNK = 5000;
/**
 * …and at most about this many bytes of outputs: a chunk is sent as one JSON parameter, and 5,000
 * embeddings (1,536 floats each) made a 100 MB string, two of them in flight per poller — the
 * worker's memory peak on a million-item batch. Text outputs rarely reach it. (8 MB still left a
 * million-item batch's peak, ~40 MB a poller, in the embedding units' collect; 4 MB is ~130
 * embeddings a statement, still far past where the per-statement cost matters.)
 */
const CHUNK_BYTES = 4 * 1024 * 1024;
const REALTIME_CHUNK = 100;

/**
 * Polls a submitted work unit; once the provider is done, collects every result, writes and
 * bills them in chunks, and sends retryable failures back out (same lane, or down the ladder when
 * the lane looks degraded). Safe to run again at any point after a crash.
 */
export async function pollWorkUnit(deps: BatchWorkerDeps, workUnitId: string): Promise<void> {
  const wu = await getWorkUnit(deps.db, workUnitId);
  if (wu?.status !== "submitted" || !wu.provider_ref) return;
  const batch = await batchesQ.getBatchById(deps.db, wu.batch_id);
  if (!batch) return;
  let unit: Awaited<ReturnType<typeof adapterForUnit>>;
  try {
    unit = await adapterForUnit(deps, wu, batch.environment);
  } catch (err) {
    if (err instanceof ProviderError) return readFailed(deps, wu, failureOf(err), async () => undefined);
    throw err;
  }
  const { lane, adapter } = unit;
  const ref = wu.provider_ref as ProviderJobRef;
  let progress: Awaited<ReturnType<typeof adapter.poll>>;
  try {
    progress = await adapter.poll(ref);
  } catch (err) {
    if (err instanceof ProviderError) return readFailed(deps, wu, failureOf(err), () => adapter.cancel(ref));
    throw err;
  }
  // The failures that give a provider job up are consecutive ones: a read that works starts over.
  if (wu.poll_failures > 0) await updateWorkUnit(deps.db, wu.id, { poll_failures: 0 });
  if (progress.status === "in_progress") {
    await deps.db.transaction(async (trx) => {
      await noteProgress(trx, deps, batch);
      await deps.jobs.send(trx, "poll", { work_unit_id: wu.id }, { startAfter: new Date(Date.now() + pollDelayMs(wu.submitted_at)) });
    });
    return;
  }

  // Every item the unit was submitted with, whatever its state now, so a batch adapter sees the same
  // set (its ids and slices are recomputed from it). A real-time lane makes its calls during collect:
  // after a crash mid-collect only the items not yet settled are sent again.
  const started = performance.now();
  const all = await requestItemsOfWorkUnit(deps.db, wu.id);
  const itemsRead = performance.now();
  const items = lane.protocol === "realtime" ? all.filter((i) => i.status === "processing") : all;
  const req = submitRequest(wu, lane, items);
  const attemptOf = new Map(items.map((i) => [i.idx, i.attempts]));
  let buffer: ItemOutcome[] = [];
  let bufferBytes = 0;
  let retryable = 0;
  // What this run itself moved out of `processing`: all of the unit's items, none to `retry`, and no
  // item of it can be waiting for another attempt (closeCollectedUnit then needn't look for one).
  const written = { items: 0, retry: 0 };
  let pending: Promise<void> = Promise.resolve();
  const flush = async () => {
    const chunk = buffer;
    buffer = [];
    bufferBytes = 0;
    const started = performance.now();
    const ended = await deps.db.transaction(async (trx) => {
      // A key share: chunks of the batch's other work units go on at the same time.
      await batchesQ.getBatchById(trx, batch.id, "key share");
      return applyOutcomes(trx, batch, wu, chunk);
    });
    written.items += ended.completed + ended.failed + ended.retry + ended.cancelled;
    written.retry += ended.retry;
    countItems(wu.lane_id, "completed", ended.completed);
    countItems(wu.lane_id, "failed", ended.failed);
    deps.logger.debug({ work_unit_id: wu.id, items: chunk.length, ms: Math.round(performance.now() - started) }, "chunk applied");
  };
  // A real-time lane's results are calls already made (and paid for): they are saved in small chunks,
  // so a crash or an error mid-collect repeats few of them.
  const chunkSize = lane.protocol === "realtime" ? REALTIME_CHUNK : CHUNK;
  const slices = new EventLoopSlices();
  try {
    for await (const r of adapter.collect(ref, req)) {
      await slices.pause();
      const outcome = toOutcome(r, attemptOf.get(idxOfItemId(r.item_id)) ?? 1);
      if (outcome.status === "retry") retryable++;
      buffer.push(outcome);
      bufferBytes += approxJsonBytes(outcome.output);
      // Write one chunk while the adapter produces the next (the database works in its own process).
      // One at a time: a second chunk written alongside gained nothing on a two-core machine (the
      // issue-12 benchmark: both chunks took longer, and the reading waited on them all the same).
      if (buffer.length >= chunkSize || bufferBytes >= CHUNK_BYTES) {
        await pending;
        pending = flush();
        // Awaited above or below; a failure while the adapter is still reading must not go unhandled
        // meanwhile (that would end the process, not fail this job).
        pending.catch(() => undefined);
      }
    }
  } catch (err) {
    // Save what was read before the failure (settlement is keyed per item, so the next read
    // yielding it again changes nothing).
    await pending;
    await flush();
    if (err instanceof ProviderError) return readFailed(deps, wu, failureOf(err), () => adapter.cancel(ref));
    throw err;
  }
  const read = performance.now();
  await pending;
  await flush();
  const settled = performance.now();
  // Not "no retryable result read": a re-run after a crash may read the provider's results
  // differently from the run that wrote some items as `retry`.
  const noRetries = written.items === all.length && written.retry === 0;
  await closeCollectedUnit(deps, wu, retryable / Math.max(1, items.length), noRetries);
  // Where a collect's time goes (bench/compat-profile.ts shows the job as a whole).
  const ms = (a: number, b: number) => Math.round(b - a);
  deps.logger.debug(
    {
      work_unit_id: wu.id,
      items_ms: ms(started, itemsRead),
      read_ms: ms(itemsRead, read),
      last_chunk_ms: ms(read, settled),
      close_ms: ms(settled, performance.now()),
    },
    "collected",
  );
  // Only now, with every result committed, may the provider drop its copy (files, stored results).
  await adapter.release?.(ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "releasing the provider's files failed"));
}

function toOutcome(r: ItemResult, attempts: number): ItemOutcome {
  const idx = idxOfItemId(r.item_id);
  const usage = { input_tokens: r.usage?.input_tokens ?? 0, output_tokens: r.usage?.output_tokens ?? 0 };
  if (r.status === "completed") return { idx, status: "completed", output: r.output, error: null, ...usage };
  const error = r.error ?? { code: "provider_error", message: "the provider returned no result" };
  if (error.code === "cancelled") return { idx, status: "cancelled", output: null, error, ...usage };
  if (r.retryable && attempts < MAX_ATTEMPTS) return { idx, status: "retry", output: null, error, ...usage };
  return { idx, status: "failed", output: null, error, ...usage };
}

/**
 * About how long `v` is as JSON: strings by length, numbers as 8, containers as their parts. An
 * array that starts with a number is taken for a vector of them (an embedding: thousands, not
 * worth walking one by one).
 */
export function approxJsonBytes(v: unknown): number {
  if (typeof v === "string") return v.length + 2;
  if (typeof v === "number") return 8;
  if (v === null || typeof v !== "object") return 5;
  let n = 2;
  if (Array.isArray(v) && typeof v[0] === "number") return n + 9 * v.length;
  if (Array.isArray(v)) for (const x of v) n += approxJsonBytes(x) + 1;
  else for (const k in v) n += k.length + 4 + approxJsonBytes((v as Record<string, unknown>)[k]);
  return n;
}
