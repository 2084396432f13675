import type { Db } from "../../db/connection.js";
import type { Actor } from "../accounts/actor.js";
import { ownBatch } from "../batches/service.js";
import { fail } from "../errors.js";
import { newId } from "../ids.js";
import * as q from "../../db/queries/feedback.js";
import { ratingToScore, type FeedbackInput } from "./schemas.js";

export interface LearningDeps {
  db: Db;
}

/**
 * Only live feedback teaches routing. Test keys are free and run on the simulator, so a test
 * rating says nothing about a provider — and counting it would let anyone steer live routing at
 * no cost. Test feedback is still stored and shown on the batch.
 */
export const countsTowardRouting = (environment: "live" | "test") => environment === "live";

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * POST /v1/batches/{id}/feedback. A batch can be rated in any status once it has completed items
 * (feedback is about outputs, so there must be some): by default every completed item so far, or
 * the named ones, which must all exist (else 400) and be completed (else 409). The feedback row
 * and the lane_quality of every (lane, workload) that served the rated items are written in one
 * transaction.
 */
export async function recordFeedback(deps: LearningDeps, actor: Actor, batchId: string, input: FeedbackInput) {
  const batch = await ownBatch(deps.db, actor, batchId);
  const score = input.score ?? ratingToScore(input.rating!);
  const ids = input.customer_item_ids ? [...new Set(input.customer_item_ids)] : null;

  return deps.db.transaction(async (trx) => {
    if (ids) await checkNamedItems(trx, batchId, ids, input.customer_item_ids!);
    const rated = await q.completedByLaneWorkload(trx, batchId, ids);
    if (rated.length === 0) {
      throw fail.invalidState(
        `Batch ${batchId} is ${batch.status} and has no completed items to rate yet; send feedback once some have completed.`,
        { status: batch.status },
      );
    }
    const row = await q.insertFeedback(trx, {
      id: newId("fb"),
      org_id: actor.org_id,
      environment: actor.environment,
      batch_id: batchId,
      score,
      label: input.label ?? null,
      customer_item_ids: ids,
      reason: input.reason ?? null,
    });
    const learns = countsTowardRouting(actor.environment);
    if (learns)
      await q.addToLaneQuality(
        trx,
        rated.map((r) => ({ ...r, score })),
      );
    return {
      ...presentFeedback(row),
      rating: input.rating ?? null,
      items_rated: rated.reduce((n, r) => n + r.items, 0),
      lanes: rated.map((r) => ({ lane_id: r.lane_id, workload: r.workload, items_rated: r.items })),
      counts_toward_routing: learns,
    };
  });
}

async function checkNamedItems(trx: Db, batchId: string, ids: string[], asSent: string[]) {
  const found = new Map((await q.itemsByCustomerId(trx, batchId, ids)).map((r) => [r.customer_item_id, r.status]));
  const unknown = ids.filter((id) => !found.has(id));
  if (unknown.length > 0) {
    const errors = unknown
      .slice(0, 100)
      .map((id) => ({ path: `/customer_item_ids/${asSent.indexOf(id)}`, message: `no item "${id}" in batch ${batchId}` }));
    throw fail.invalidRequest(
      `Invalid body: ${errors[0]!.path}: ${errors[0]!.message}${unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ""}.`,
      {
        location: "body",
        errors,
        unknown_customer_item_ids: unknown.slice(0, 100),
      },
    );
  }
  const notCompleted = ids.filter((id) => found.get(id) !== "completed").map((id) => ({ customer_item_id: id, status: found.get(id)! }));
  if (notCompleted.length > 0) {
    const first = notCompleted[0]!;
    throw fail.invalidState(
      `Only completed items can be rated; "${first.customer_item_id}" is ${first.status}${notCompleted.length > 1 ? ` (and ${notCompleted.length - 1} more are not completed)` : ""}.`,
      {
        not_completed: notCompleted.slice(0, 100),
      },
    );
  }
}

export function presentFeedback(row: q.FeedbackRow) {
  return {
    id: row.id,
    object: "feedback" as const,
    batch_id: row.batch_id,
    environment: row.environment,
    score: round4(row.score),
    label: row.label,
    customer_item_ids: row.customer_item_ids,
    reason: row.reason,
    created_at: row.created_at.toISOString(),
  };
}

const RECENT_FEEDBACK = 20;

/**
 * GET /v1/batches/{id}/quality: the customer's signal on this batch, and the provider attribution
 * slice — per lane that served it, what it served and how it went, with the learned quality of
 * each workload it served (lane_quality, which sums live feedback across every customer's batches).
 */
export async function batchQuality(deps: LearningDeps, actor: Actor, batchId: string) {
  const batch = await ownBatch(deps.db, actor, batchId);
  const [summary, recent, served] = await Promise.all([
    q.feedbackSummary(deps.db, batchId),
    q.recentFeedback(deps.db, batchId, RECENT_FEEDBACK),
    q.servedByLaneWorkload(deps.db, batchId),
  ]);
  const quality = new Map((await q.laneQualityOf(deps.db, served)).map((r) => [`${r.lane_id}\n${r.workload}`, r]));

  const lanes = new Map<
    string,
    {
      lane_id: string;
      provider: string;
      model: string;
      region: string;
      mode: string;
      items_served: number;
      completed: number;
      failed: number;
      workloads: unknown[];
    }
  >();
  for (const s of served) {
    const [provider = "", model = "", region = "", mode = ""] = s.lane_id.split("/");
    const lane = lanes.get(s.lane_id) ?? {
      lane_id: s.lane_id,
      provider,
      model,
      region,
      mode,
      items_served: 0,
      completed: 0,
      failed: 0,
      workloads: [],
    };
    lane.items_served += s.items;
    lane.completed += s.completed;
    lane.failed += s.failed;
    const lq = quality.get(`${s.lane_id}\n${s.workload}`);
    lane.workloads.push({
      workload: s.workload,
      items_served: s.items,
      completed: s.completed,
      failed: s.failed,
      lane_quality: lq
        ? {
            feedback_count: lq.feedback_count,
            mean_score: lq.feedback_count > 0 ? round4(lq.score_sum / lq.feedback_count) : null,
            items_rated: lq.items_rated,
            updated_at: lq.updated_at.toISOString(),
          }
        : null,
    });
    lanes.set(s.lane_id, lane);
  }

  return {
    object: "batch_quality",
    batch_id: batchId,
    status: batch.status,
    environment: batch.environment,
    feedback: {
      count: summary.count,
      mean_score: summary.mean_score === null ? null : round4(Number(summary.mean_score)),
      labels: { accepted: summary.accepted, rejected: summary.rejected },
      recent: recent.map(presentFeedback),
    },
    counts_toward_routing: countsTowardRouting(batch.environment),
    provider_attribution: [...lanes.values()],
  };
}
