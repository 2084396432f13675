import { z } from "zod";
import { itemSchema } from "../../server/batches/item-schema.js";
import { constraintFields, manifestShape, MAX_INLINE_ITEMS, webhookInput } from "../../server/quotes/schemas.js";

/**
 * Fields shared by several tools. Inputs reuse the HTTP API's own schemas and names (the domain
 * schemas), so a tool call and an API request are the same thing; every field carries the
 * description the model reads. Outputs are loose objects: they pin what a caller relies on and let
 * the API add fields without breaking clients that validate against the schema.
 */

export const batchIdField = z.string().min(1).max(64).describe("The batch id (bat_…), as submit_batch or list_batches returned it.");

/** Where a manifest's items come from: inline, a local JSONL file (stdio only), or an uploaded manifest. */
export const sourceFields = {
  items: z.array(itemSchema).min(1).max(MAX_INLINE_ITEMS).optional()
    .describe("The model calls, inline. Each: {customer_item_id (unique), operation?, model?, model_options?, input: the OpenAI-style body ({messages: [{role, content}]} for responses), metadata?, tools?, max_output_tokens?}."),
  file_path: z.string().min(1).max(4096).optional()
    .describe("Path to a local JSONL manifest (one item per line, or OpenAI Batch lines {custom_id, method, url, body}); it is uploaded for you. Only with the stdio `batchrouter-mcp` command; over /mcp use items or input_file_id."),
  input_file_id: manifestShape.input_file_id,
  operation: manifestShape.operation.describe("Operation of items that don't say: responses (default), embeddings or vision."),
  model: z.string().min(1).max(200).optional().describe("Model of items that don't name one (a catalog slug, e.g. gpt-4o-mini; see list_models)."),
};

/** Routing constraints, exactly as quotes and batches take them. */
export const routingFields = {
  routing_mode: constraintFields.routing_mode,
  sla_tier: constraintFields.sla_tier,
  privacy_tier: constraintFields.privacy_tier,
  allowed_regions: constraintFields.allowed_regions,
  provider_preferences: constraintFields.provider_preferences,
  max_price: constraintFields.max_price,
  metadata: constraintFields.metadata,
};

export const webhookField = webhookInput.optional().describe("Where to POST signed batch events ({url, secret?}); the org's default webhook when omitted.");

export const idempotencyKeyField = z.string().min(8).max(128).optional()
  .describe("Idempotency-Key (8–128 chars). Default: derived from a sha256 of the request, so repeating the same call returns the first answer instead of doing the work twice; pass a new key to repeat identical work on purpose.");

export const money = z.looseObject({
  amount: z.string().describe("Decimal USD with 6 places."),
  currency: z.string(),
});

const counts = z.looseObject({
  total: z.number(), queued: z.number(), processing: z.number(), completed: z.number(), failed: z.number(), cancelled: z.number(),
});

export const batchObject = z.looseObject({
  id: z.string(),
  object: z.string(),
  status: z.string().describe("pending → queued → routing → dispatched → processing → completing → completed; terminal: completed, failed, cancelled, expired."),
  environment: z.string(),
  item_count: z.number(),
  counts,
  pricing_estimate: z.looseObject({ total: money }),
  settled_total: money,
  lanes: z.array(z.looseObject({ lane_id: z.string(), provider: z.string(), model: z.string(), item_count: z.number(), status: z.string() })),
  customer_explanation: z.string().nullable(),
  created_at: z.string(),
});

export const TERMINAL = new Set(["completed", "failed", "cancelled", "expired"]);

/** "3/3 completed, 0 failed" for summaries. */
export function progress(batch: { status: string; item_count: number; counts: Record<string, number> }): string {
  const c = batch.counts;
  return `${batch.status}: ${c.completed ?? 0}/${batch.item_count} completed, ${c.failed ?? 0} failed` +
    ((c.cancelled ?? 0) > 0 ? `, ${c.cancelled} cancelled` : "") + ((c.expired ?? 0) > 0 ? `, ${c.expired} expired` : "");
}
