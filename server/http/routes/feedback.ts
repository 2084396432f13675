import { batchIdParams } from "../../batches/schemas.js";
import { batchQuality, recordFeedback } from "../../learning/feedback.js";
import { feedbackInput } from "../../learning/schemas.js";
import { batchQualityObject, feedbackReceiptObject } from "../../learning/responses.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

/** Customer feedback on a batch and the quality signal it feeds (spec/api.md §5, §8). */
export function feedbackRoutes(deps: AppDeps) {
  return [
    defineRoute({
      method: "post",
      path: "/v1/batches/:id/feedback",
      tag: "batches",
      auth: "feedback",
      status: 201,
      summary:
        "Rate a batch's completed items (score 0–1 or rating 1–5, optional label, items and reason); live feedback updates the per-lane, per-workload quality routing learns from.",
      params: batchIdParams,
      body: feedbackInput,
      response: feedbackReceiptObject,
      handler: async (_ctx, { actor, params, body }) => recordFeedback(deps, actor, params.id, body),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/quality",
      tag: "batches",
      auth: "read",
      summary:
        "The batch's feedback (count, mean score, labels) and, per lane that served it, items served, completed and failed, and the learned quality of each workload.",
      params: batchIdParams,
      response: batchQualityObject,
      handler: async (_ctx, { actor, params }) => batchQuality(deps, actor, params.id),
    }),
  ];
}
