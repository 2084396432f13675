import { z } from "zod";
import { MAX_INLINE_ITEMS } from "../quotes/schemas.js";

/**
 * The fields of feedback on a batch (spec/api.md §5). Kept as a shape so the MCP tool
 * `send_feedback` offers exactly these fields, with these descriptions, to the model.
 */
export const feedbackFields = {
  score: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe("How good the outputs were, from 0 (useless) to 1 (exactly right). Send `score` or `rating`, not both."),
  rating: z
    .number()
    .min(1)
    .max(5)
    .optional()
    .describe("How good the outputs were, as 1–5 stars (stored as a score: 1 → 0, 3 → 0.5, 5 → 1). Send `rating` or `score`, not both."),
  label: z.enum(["accepted", "rejected"]).optional().describe("Whether you kept the outputs (accepted) or threw them away (rejected)."),
  customer_item_ids: z
    .array(z.string().min(1).max(256))
    .min(1)
    .max(MAX_INLINE_ITEMS)
    .optional()
    .describe("Rate only these items (their customer_item_id); they must be completed items of this batch. Default: every completed item."),
  reason: z.string().max(2000).optional().describe("Why, in a sentence or two (up to 2000 characters)."),
};

export const feedbackInput = z.strictObject(feedbackFields).superRefine((v, ctx) => {
  if ((v.score === undefined) === (v.rating === undefined)) {
    ctx.addIssue({ code: "custom", path: ["score"], message: "send exactly one of `score` (0–1) and `rating` (1–5)" });
  }
});
export type FeedbackInput = z.infer<typeof feedbackInput>;

/** A 1–5 rating as a 0–1 score, so every signal adds up on one scale. */
export const ratingToScore = (rating: number): number => (rating - 1) / 4;
