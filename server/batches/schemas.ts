import { z } from "zod";
import { manifestShape } from "../quotes/schemas.js";
import { BATCH_STATUSES } from "../../db/queries/batches.js";

export const createBatchSchema = z
  .strictObject({
    ...manifestShape,
    quote_id: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("A quote (qlock_…) whose locked price this batch takes; its items must be the quoted ones."),
  })
  .superRefine((v, ctx) => {
    if ((v.items === undefined) === (v.input_file_id === undefined)) {
      ctx.addIssue({ code: "custom", path: ["items"], message: "send `items` or an `input_file_id` (a batch needs its items)" });
    }
    if (v.estimated_items !== undefined || v.models !== undefined || v.sample_items !== undefined) {
      ctx.addIssue({ code: "custom", path: ["estimated_items"], message: "volume fields belong to quotes; a batch carries its items" });
    }
    if (v.webhook && v.delivery?.webhook_url)
      ctx.addIssue({ code: "custom", path: ["delivery"], message: "send `webhook` or `delivery.webhook_url`, not both" });
    if (v.metadata && Object.keys(v.metadata).length > 16)
      ctx.addIssue({ code: "custom", path: ["metadata"], message: "at most 16 pairs" });
  });
export type CreateBatchRequest = z.infer<typeof createBatchSchema>;

export { BATCH_STATUSES };

export const batchIdParams = z.object({ id: z.string().max(64).describe("The batch id (bat_…).") });

export const listBatchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100."),
  cursor: z.string().max(64).optional().describe("`next_cursor` of the previous page."),
  after: z.string().max(64).optional().describe("Alias of `cursor`."),
  status: z.enum(BATCH_STATUSES).optional().describe("Only batches in this status."),
});

export const getBatchQuery = z.object({
  include_billing_receipt: z.enum(["true", "false", "1", "0"]).optional().describe("Add the billing receipt once the batch has ended."),
});

export const resultsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe("Results per page, 1–1000."),
  cursor: z.string().max(64).regex(/^\d+$/, "a cursor from next_cursor").optional().describe("`next_cursor` of the previous page."),
  status: z.enum(["completed", "failed"]).optional().describe("Only completed or only failed items."),
});

export const artifactQuery = z.object({
  kind: z.enum(["output", "errors", "receipt"]).default("output").describe("output (completed items), errors (failed items) or receipt."),
});
