import { z } from "zod";
import { feedbackReceiptObject } from "../../server/learning/responses.js";
import { feedbackFields } from "../../server/learning/schemas.js";
import { defineTool } from "./define.js";
import { withDerivedKey } from "./idempotency.js";
import { batchIdField, idempotencyKeyField } from "./shapes.js";

export const sendFeedback = defineTool({
  name: "send_feedback",
  title: "Rate a batch's outputs",
  description:
    "Tell BatchRouter how good a batch's outputs were: a score (0–1) or a rating (1–5), optionally accepted/rejected, the items concerned " +
    "and why. It is credited to the provider lanes that produced those items, per kind of work, so routing can learn which lanes do " +
    "similar work well (live keys only; test feedback is recorded but not learned from). Needs completed items.",
  input: z.object({
    batch_id: batchIdField,
    ...feedbackFields,
    idempotency_key: idempotencyKeyField,
  }),
  output: feedbackReceiptObject.extend({
    replayed: z.boolean().describe("true when this exact feedback had already been sent and the first answer is returned."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const { batch_id, idempotency_key, ...body } = args;
    const res = await withDerivedKey("feedback", { batch_id, ...body }, idempotency_key, (key) =>
      platform.sendFeedback(batch_id, body, key),
    );
    const fb = res.body;
    const learned = fb.counts_toward_routing
      ? `credited to ${fb.lanes.length} lane(s) for routing`
      : "recorded (test mode: not used for routing)";
    return {
      data: { ...fb, replayed: res.replayed },
      summary: `${res.replayed ? "Already recorded" : "Recorded"} feedback ${fb.id} on ${fb.batch_id}: score ${fb.score} over ${fb.items_rated} items, ${learned}.`,
    };
  },
});
