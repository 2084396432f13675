import { z } from "zod";
import { itemSchema } from "../../server/manifest/item-schema.js";
import { batchIdParams } from "../../server/batches/schemas.js";
import { constraintFields, manifestShape, MAX_INLINE_ITEMS, webhookInput } from "../../server/quotes/schemas.js";

/**
 * Fields shared by several tools. Inputs are the HTTP API's own schemas (the domain schemas), picked
 * or re-described, so a tool call and an API request validate alike; every field carries the
 * description the model reads. Outputs are the domain's response schemas (server/<domain>/responses.ts),
 * the ones /v1/openapi.json publishes.
 */

// min(1): an empty id would make the stdio client ask for GET /v1/batches/, the list.
export const batchIdField = batchIdParams.shape.id.min(1).describe("The batch id (bat_…), as submit_batch or list_batches returned it.");

/** Where a manifest's items come from: inline, a local JSONL file (stdio only), or an uploaded manifest. */
export const sourceFields = {
  // The item schema rather than the manifest's z.unknown(): the model sees every field of an item.
  items: z
    .array(itemSchema)
    .min(1)
    .max(MAX_INLINE_ITEMS)
    .optional()
    .describe(
      "The model calls, inline. Each: {customer_item_id (unique), operation?, model?, model_options?, input: the OpenAI-style body ({messages: [{role, content}]} for responses), metadata?, tools?, max_output_tokens?}.",
    ),
  file_path: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe(
      "Path to a local JSONL manifest (one item per line, or OpenAI Batch lines {custom_id, method, url, body}); it is uploaded for you. Only with the stdio `batchrouter-mcp` command; over /mcp use items or input_file_id.",
    ),
  input_file_id: manifestShape.input_file_id,
  operation: manifestShape.operation.describe("Operation of items that don't say: responses (default), embeddings or vision."),
  model: manifestShape.model.describe("Model of items that don't name one (a catalog slug, e.g. gpt-4o-mini; see list_models)."),
};

/** Routing constraints, exactly as quotes and batches take them. */
export const routingFields = constraintFields;

export const webhookField = webhookInput
  .optional()
  .describe("Where to POST signed batch events ({url, secret?}); the org's default webhook when omitted.");

export const idempotencyKeyField = z
  .string()
  .min(8)
  .max(128)
  .optional()
  .describe(
    "Idempotency-Key (8–128 chars). Default: derived from a sha256 of the request, so repeating the same call returns the first answer instead of doing the work twice; pass a new key to repeat identical work on purpose.",
  );

/** "3/3 completed, 0 failed" for summaries. */
export function progress(batch: { status: string; item_count: number; counts: Record<string, number> }): string {
  const c = batch.counts;
  return (
    `${batch.status}: ${c.completed ?? 0}/${batch.item_count} completed, ${c.failed ?? 0} failed` +
    ((c.cancelled ?? 0) > 0 ? `, ${c.cancelled} cancelled` : "") +
    ((c.expired ?? 0) > 0 ? `, ${c.expired} expired` : "")
  );
}
