import type { Db } from "../../db/connection.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { getBatch } from "../../db/queries/batches.js";
import { getBatchView, getItemTally, type ItemTally, tallyOf } from "../../db/queries/batch-view.js";
import type { Actor } from "../accounts/actor.js";
import { errors } from "../errors.js";
import { FinishedBatchCache } from "./finished-batch-cache.js";
import { RunningTallyCache, TALLY_CACHE_MIN_ITEMS } from "./running-tally-cache.js";
import { TERMINAL_STATUSES, withUnwrittenItems } from "./statuses.js";
import { money } from "../money.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The older docs spell the cancelled states with one "l". */
const LEGACY_STATE: Record<string, string> = { cancelled: "canceled", cancelling: "canceling" };

export function legacyState(status: string): string {
  return LEGACY_STATE[status] ?? status;
}

/** The public batch object (spec/api.md §5), with live counts and per-lane progress. */
export async function presentBatch(db: Db, b: BatchRow) {
  return presentBatchTally(b, await tallyOf(db, b));
}

const finishedBatches = new WeakMap<Db, FinishedBatchCache>();
const runningTallies = new WeakMap<Db, RunningTallyCache>();

/** A large batch still running: its tally is worth sharing between polls. */
const sharesTally = (row: BatchRow) => row.item_count >= TALLY_CACHE_MIN_ITEMS && !TERMINAL_STATUSES.has(row.status);

/**
 * The batch and its tally in one statement — except for a large batch still running that this
 * process has read before: its row is read alone and its tally comes from the RunningTallyCache (a
 * second or two behind at most). The row is always read with the caller's org and environment.
 */
async function readBatchView(db: Db, actor: Actor, id: string): Promise<{ row: BatchRow; tally: ItemTally } | undefined> {
  let tallies = runningTallies.get(db);
  if (!tallies) runningTallies.set(db, (tallies = new RunningTallyCache()));
  if (tallies.has(id)) {
    const row = await getBatch(db, actor.org_id, actor.environment, id);
    if (!row) return undefined;
    if (sharesTally(row)) return { row, tally: await tallies.get(id, () => getItemTally(db, id)) };
    tallies.forget(id);
    return { row, tally: await tallyOf(db, row) };
  }
  const view = await getBatchView(db, actor.org_id, actor.environment, id);
  if (view && sharesTally(view.row)) tallies.seed(id, view.tally);
  return view;
}

/**
 * The caller's batch `id`, read in one statement with its item tally (or, once it is finished, from
 * the process's FinishedBatchCache) and presented — the poll's path; 404 when the org and
 * environment have no such batch. The top-level object is new on every call: the caller may add to
 * it (the billing receipt); what it holds is shared with the cache and must not be changed.
 */
export async function presentOwnBatch(db: Db, actor: Actor, id: string): Promise<{ row: BatchRow; batch: Record<string, unknown> }> {
  let finished = finishedBatches.get(db);
  if (!finished) finishedBatches.set(db, (finished = new FinishedBatchCache()));
  const cached = finished.get(actor.org_id, actor.environment, id);
  if (cached) return { row: cached.row, batch: { ...cached.batch } };
  const view = await readBatchView(db, actor, id);
  if (!view) throw errors.notFound("batch");
  const batch = presentBatchTally(view.row, view.tally);
  finished.offer(view.row, view.tally, batch);
  return { row: view.row, batch: { ...batch } };
}

function presentBatchTally(b: BatchRow, tally: ItemTally) {
  const { lanes } = tally;
  const counts = withUnwrittenItems(b.status, b.item_count, tally.counts);
  const lanesById = new Map((b.lanes_report as { lane_id: string; provider: string; model: string }[]).map((l) => [l.lane_id, l]));
  return {
    id: b.id,
    object: "batch",
    status: b.status,
    state: legacyState(b.status),
    environment: b.environment,
    item_count: b.item_count,
    counts: {
      total: b.item_count,
      // Items between attempts (`retry`) are waiting to be sent again: queued, as far as a client knows.
      queued: (counts.queued ?? 0) + (counts.retry ?? 0),
      processing: counts.processing ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      cancelled: counts.cancelled ?? 0,
      expired: counts.expired ?? 0,
    },
    sla_tier: b.sla_tier,
    sla_deadline: b.sla_deadline.toISOString(),
    routing_mode: b.routing_mode,
    privacy_tier: b.privacy_tier,
    allowed_regions: b.allowed_regions,
    quote_id: b.quote_id,
    input_file_id: b.input_file_id,
    pricing_estimate: b.pricing_estimate,
    settled_total: money(b.settled_provider_micros + b.settled_fee_micros),
    lanes: lanes
      .filter((l) => l.lane_id)
      .map((l) => {
        const [provider, model] = l.lane_id!.split("/");
        return {
          lane_id: l.lane_id,
          provider: lanesById.get(l.lane_id!)?.provider ?? provider,
          model: lanesById.get(l.lane_id!)?.model ?? model,
          item_count: l.item_count,
          status: l.open > 0 ? "processing" : "done",
        };
      }),
    customer_explanation: b.customer_explanation,
    webhook: b.webhook_url ? { url: b.webhook_url } : null,
    metadata: b.metadata,
    error: b.error,
    created_at: b.created_at.toISOString(),
    updated_at: b.updated_at.toISOString(),
    dispatched_at: iso(b.dispatched_at),
    completed_at: iso(b.completed_at),
    cancelled_at: iso(b.cancelled_at),
    failed_at: iso(b.failed_at),
    expired_at: iso(b.expired_at),
    route_receipt_url: `/v1/batches/${b.id}/route-receipt`,
    results_url: `/v1/batches/${b.id}/results`,
  };
}
