import { z } from "zod";
import { createBatchResponse } from "../../server/batches/responses.js";
import { createBatchSchema } from "../../server/batches/schemas.js";
import { defineTool } from "./define.js";
import { withDerivedKey } from "./idempotency.js";
import { manifestBody } from "./quotes.js";
import { idempotencyKeyField, routingFields, sourceFields, webhookField } from "./shapes.js";

export const submitBatch = defineTool({
  name: "submit_batch",
  title: "Submit a batch",
  description:
    "Run a batch: the items (inline, a local JSONL file_path, or an input_file_id) are routed to provider lanes and the quoted total is " +
    "reserved from your balance at once (402 insufficient_credits if it isn't there). Pass the quote_id of a quote_batch call with the same " +
    "items to get its locked price; without one, the batch is priced now. Returns at once; follow it with get_batch_status. " +
    "Repeating the same call returns the same batch (see idempotency_key).",
  input: z.object({
    ...sourceFields,
    quote_id: createBatchSchema.shape.quote_id.describe("A quote (qlock_…) from quote_batch; its items must be exactly these."),
    ...routingFields,
    webhook: webhookField,
    idempotency_key: idempotencyKeyField,
  }),
  output: createBatchResponse.extend({
    idempotency_key: z.string().describe("The Idempotency-Key the batch was created under."),
    replayed: z.boolean().describe("true when this exact submission had already been made and the existing batch is returned."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async run(args, { platform }) {
    const body = await manifestBody(args, platform, false);
    const res = await withDerivedKey("batch", body, args.idempotency_key, (key) => platform.createBatch(body, key));
    const batch = res.body.batch;
    const data = { batch, idempotency_key: res.idempotency_key, replayed: res.replayed };
    const test = batch.environment === "test" ? " (test mode: simulated, free)" : "";
    return {
      data,
      summary:
        `${res.replayed ? "Already submitted: this is the existing" : "Submitted"} batch ${batch.id}${test}, ${batch.item_count} items, ` +
        `reserved ${batch.pricing_estimate.total.amount} USD. ${batch.customer_explanation ?? ""} ` +
        `Next: get_batch_status with batch_id ${batch.id} and wait_seconds until done is true.`,
    };
  },
});
