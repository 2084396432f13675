import { z } from "zod";
import { environmentSchema } from "../accounts/schemas.js";
import { batchStatusSchema } from "../batches/responses.js";
import { timestamp } from "../responses.js";

/** Success bodies of the feedback and quality routes (server/learning/feedback.ts). */

const score = z.number().min(0).max(1);

/** One piece of feedback on a batch (`presentFeedback`). */
export const feedbackObject = z.object({
  id: z.string().describe("fb_…"),
  object: z.literal("feedback"),
  batch_id: z.string(),
  environment: environmentSchema,
  score: score.describe("0–1 (a rating is stored as a score)."),
  label: z.enum(["accepted", "rejected"]).nullable(),
  customer_item_ids: z.array(z.string()).nullable().describe("The items rated; null for every completed item."),
  reason: z.string().nullable(),
  created_at: timestamp(),
});

/** POST /v1/batches/{id}/feedback: the feedback and where it was credited. */
export const feedbackReceiptObject = feedbackObject.extend({
  rating: z.number().nullable().describe("The 1–5 rating, when one was sent instead of a score."),
  items_rated: z.number().int(),
  lanes: z
    .array(
      z.object({
        lane_id: z.string(),
        workload: z.string().describe("The kind of work the lane did for these items."),
        items_rated: z.number().int(),
      }),
    )
    .describe("The provider lanes that produced the rated items, per workload."),
  counts_toward_routing: z.boolean().describe("false for test keys: test feedback is recorded but not learned from."),
});

/** GET /v1/batches/{id}/quality. */
export const batchQualityObject = z.object({
  object: z.literal("batch_quality"),
  batch_id: z.string(),
  status: batchStatusSchema,
  environment: environmentSchema,
  feedback: z.object({
    count: z.number().int(),
    mean_score: score.nullable(),
    labels: z.object({ accepted: z.number().int(), rejected: z.number().int() }),
    recent: z.array(feedbackObject).describe("The latest feedback, newest first (up to 20)."),
  }),
  counts_toward_routing: z.boolean(),
  provider_attribution: z
    .array(
      z.object({
        lane_id: z.string(),
        provider: z.string(),
        model: z.string(),
        region: z.string(),
        mode: z.string(),
        items_served: z.number().int(),
        completed: z.number().int(),
        failed: z.number().int(),
        workloads: z.array(
          z.object({
            workload: z.string(),
            items_served: z.number().int(),
            completed: z.number().int(),
            failed: z.number().int(),
            lane_quality: z
              .object({
                feedback_count: z.number().int(),
                mean_score: score.nullable(),
                items_rated: z.number().int(),
                updated_at: timestamp(),
              })
              .nullable()
              .describe("What routing learned for this lane and workload from every customer's live feedback; null before any."),
          }),
        ),
      }),
    )
    .describe("Per lane that served the batch: what it served and how it went."),
});
