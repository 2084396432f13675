import type { Db } from "../../db/connection.js";
import * as batchesQ from "../../db/queries/batches.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { laneSummary, resultsPage, type BatchItemRow } from "../../db/queries/batch-items.js";
import { workUnitsOf } from "../../db/queries/work-units.js";
import type { Actor } from "../accounts/actor.js";
import { errors, fail } from "../errors.js";
import type { ArtifactStore } from "../files/artifact-store.js";
import type { JobSender } from "../jobs/sender.js";
import { money } from "../money.js";
import { splitPage } from "../pagination.js";
import { legacyState, presentBatch, presentOwnBatch } from "./present.js";
import { FAILED_RESULT_STATUSES, RESULT_STATUSES, TERMINAL_STATUSES, requestCancel, type BatchStatus } from "./lifecycle.js";

export interface BatchReadDeps {
  db: Db;
  jobs: JobSender;
  artifacts: ArtifactStore;
}

export async function ownBatch(db: Db, actor: Actor, id: string): Promise<BatchRow> {
  const b = await batchesQ.getBatch(db, actor.org_id, actor.environment, id);
  if (!b) throw errors.notFound("batch");
  return b;
}

/** GET /v1/batches/{id}: `{batch, id, status, state}` so both old and new clients read it. */
export async function getBatch(deps: BatchReadDeps, actor: Actor, id: string, withReceipt: boolean) {
  return (await pollBatch(deps, actor, id, withReceipt)).body;
}

/**
 * getBatch's answer with the row it was read from: without the receipt, the answer is a function of
 * that row (a finished batch's read is reused, row included), so the HTTP layer keeps its bytes by it.
 */
export async function pollBatch(deps: BatchReadDeps, actor: Actor, id: string, withReceipt: boolean) {
  const { row: b, batch } = await presentOwnBatch(deps.db, actor, id);
  if (withReceipt && TERMINAL_STATUSES.has(b.status)) batch.billing_receipt = await billingReceipt(deps, actor, id, b);
  return { row: b, body: { batch, id: b.id, object: "batch", status: b.status, state: legacyState(b.status) } };
}

export async function listBatches(
  deps: BatchReadDeps,
  actor: Actor,
  q: { limit: number; cursor?: string; after?: string; status?: BatchStatus },
) {
  const rows = await batchesQ.listBatches(deps.db, actor.org_id, actor.environment, q.limit + 1, q.cursor ?? q.after, q.status);
  const { kept, has_more, next_cursor } = splitPage(rows, q.limit, (b) => b.id);
  return { object: "list", data: await Promise.all(kept.map((b) => presentBatch(deps.db, b))), has_more, next_cursor };
}

/**
 * POST /v1/batches/{id}/cancel: items not yet at a provider are cancelled and released at once;
 * those already there may still finish (and are billed). The batch ends `cancelled`.
 */
export async function cancelBatch(deps: BatchReadDeps, actor: Actor, id: string) {
  await deps.db.transaction(async (trx) => {
    const b = await batchesQ.getBatch(trx, actor.org_id, actor.environment, id);
    if (!b) throw errors.notFound("batch");
    await requestCancel(trx, deps.jobs, b.id, actor.key_id);
  });
  return getBatch(deps, actor, id, false);
}

/** One result, as the results endpoint and the output/errors files show it. */
export function presentResult(it: BatchItemRow) {
  const [provider, model] = (it.lane_id ?? "").split("/");
  return {
    customer_item_id: it.customer_item_id,
    status: it.status === "completed" ? "completed" : "failed",
    output: it.output ?? null,
    error: it.status === "completed" ? null : (it.error ?? { code: it.status, message: `item ${it.status}` }),
    usage: { input_tokens: it.input_tokens ?? 0, output_tokens: it.output_tokens ?? 0 },
    lane_id: it.lane_id,
    provider: provider || null,
    model: model || null,
    cost: money(it.cost_micros ?? 0),
    metadata: (it.item as { metadata?: Record<string, string> }).metadata ?? null,
  };
}

/** GET …/results: keyset pages in manifest order; only once the batch has ended. */
export async function results(
  deps: BatchReadDeps,
  actor: Actor,
  id: string,
  q: { limit: number; cursor?: string; status?: "completed" | "failed" },
) {
  const b = await ownBatch(deps.db, actor, id);
  if (!TERMINAL_STATUSES.has(b.status)) {
    throw fail.resultsNotReady(`Batch ${id} is ${b.status}; results are ready once it has ended.`, { status: b.status });
  }
  const after = q.cursor === undefined ? -1 : Number(q.cursor);
  const statuses = q.status === "completed" ? ["completed" as const] : q.status === "failed" ? FAILED_RESULT_STATUSES : RESULT_STATUSES;
  const rows = await resultsPage(deps.db, id, after, q.limit + 1, statuses);
  const { kept, has_more, next_cursor } = splitPage(rows, q.limit, (r) => String(r.idx));
  return { object: "list", batch_id: id, results: kept.map(presentResult), next_cursor, has_more };
}

export const ARTIFACT_URL_TTL_S = 15 * 60;

export async function artifactUrl(deps: BatchReadDeps, actor: Actor, id: string, kind: "output" | "errors" | "receipt") {
  const b = await ownBatch(deps.db, actor, id);
  const artifact = b.artifacts?.[kind];
  if (!artifact) throw fail.resultsNotReady(`Batch ${id} is ${b.status}; its files are written when it ends.`, { status: b.status });
  const signed = await deps.artifacts.signedUrl(artifact.storage_key, {
    expiresInSeconds: ARTIFACT_URL_TTL_S,
    filename: `${id}-${kind}.jsonl`,
  });
  return {
    object: "artifact_url",
    kind,
    url: signed.url,
    expires_at: signed.expires_at,
    bytes: artifact.bytes,
    sha256: artifact.sha256,
    format: "jsonl",
    file_id: artifact.file_id,
  };
}

export async function routeReceipt(deps: BatchReadDeps, actor: Actor, id: string) {
  const b = await ownBatch(deps.db, actor, id);
  const [events, units] = await Promise.all([batchesQ.routeEvents(deps.db, id), workUnitsOf(deps.db, id)]);
  const lanes = b.lanes_report as { selected: boolean }[];
  return {
    object: "route_receipt",
    batch_id: id,
    routing_mode: b.routing_mode,
    sla_tier: b.sla_tier,
    privacy_tier: b.privacy_tier,
    allowed_regions: b.allowed_regions,
    customer_explanation: b.customer_explanation,
    selected_lanes: lanes.filter((l) => l.selected),
    rejected_lanes: lanes.filter((l) => !l.selected),
    work_units: units.map((u) => ({
      id: u.id,
      lane_id: u.lane_id,
      attempt: u.attempt,
      status: u.status,
      item_count: u.item_count,
      execution: u.execution,
      submitted_at: u.submitted_at?.toISOString() ?? null,
      finished_at: u.finished_at?.toISOString() ?? null,
      fallback_order: u.fallback_order,
    })),
    fallbacks: events
      .filter((e: { kind: string }) => e.kind === "fallback")
      .map((e: { details: object; at: Date }) => ({ ...e.details, at: e.at.toISOString() })),
    retries: events
      .filter((e: { kind: string }) => e.kind === "retry")
      .map((e: { details: object; at: Date }) => ({ ...e.details, at: e.at.toISOString() })),
    events: events.map((e: { kind: string; details: object; at: Date }) => ({ kind: e.kind, at: e.at.toISOString(), ...e.details })),
    execution: [...new Set(units.map((u) => u.execution))].join(",") || "simulated",
  };
}

export async function billingReceipt(deps: BatchReadDeps, actor: Actor, id: string, row?: BatchRow) {
  const b = row ?? (await ownBatch(deps.db, actor, id));
  const lanes = await laneSummary(deps.db, id);
  const report = b.lanes_report as { selected: boolean; lane_id: string; rejection_reasons: unknown[] }[];
  return {
    object: "billing_receipt",
    batch_id: id,
    status: b.status,
    quoted_total: money(b.quoted_total_micros),
    settled_total: money(b.settled_provider_micros + b.settled_fee_micros),
    provider_subtotal: money(b.settled_provider_micros),
    estimated_tokens:
      b.estimated_input_tokens === null || b.estimated_output_tokens === null
        ? null
        : { input_tokens: Number(b.estimated_input_tokens), output_tokens: Number(b.estimated_output_tokens) },
    reported_tokens: {
      input_tokens: lanes.reduce((n, l) => n + Number(l.input_tokens), 0),
      output_tokens: lanes.reduce((n, l) => n + Number(l.output_tokens), 0),
    },
    provider_lanes: lanes
      .filter((l) => l.lane_id)
      .map((l) => {
        const [provider, model] = l.lane_id!.split("/");
        return {
          lane_id: l.lane_id,
          provider,
          model,
          items: l.completed,
          failed_items: l.failed,
          input_tokens: l.input_tokens,
          output_tokens: l.output_tokens,
          provider_cost: money(l.provider_cost),
        };
      }),
    rejected_lanes: report.filter((l) => !l.selected).map((l) => ({ lane_id: l.lane_id, rejection_reasons: l.rejection_reasons })),
    batchrouter_fee: money(b.settled_fee_micros),
    fee_rate: (b.pricing_estimate as { fee_rate?: string }).fee_rate ?? null,
    customer_discount: money(0),
    sla_fee_refund: money(b.sla_fee_refund_micros),
    reserved: money(b.reserved_micros),
    released: money(b.released_micros),
    settled_at: b.settled_at?.toISOString() ?? null,
  };
}
