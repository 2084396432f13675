import { z } from "zod";
import { environmentSchema } from "../accounts/schemas.js";
import { privacyTierSchema, regionSchema, routingModeSchema, slaTierSchema } from "../catalog/types.js";
import { pricingEstimate, quoteLaneObject, rejectionReason } from "../quotes/responses.js";
import { errorInfoSchema, listOf, moneySchema, pageFields, timestamp } from "../responses.js";
import { BATCH_STATUSES } from "./schemas.js";

/** Success bodies of the batch routes (server/batches/present.ts, service.ts, create.ts, optimization.ts). */

export const batchStatusSchema = z
  .enum(BATCH_STATUSES)
  .describe(
    "pending → queued → routing → dispatched → processing → completing → completed; terminal: completed, failed, cancelled, expired.",
  );

const legacyStateSchema = z.string().describe("`status` with the older docs' spelling (canceled, canceling), for their clients.");

export const batchCounts = z.object({
  total: z.number().int(),
  queued: z.number().int().describe("Waiting to be sent (or sent again after a retryable failure)."),
  processing: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  expired: z.number().int(),
});

/** The billing receipt of a batch (GET /v1/batches/{id}/billing-receipt; with `include_billing_receipt` on the batch). */
export const billingReceiptObject = z.object({
  object: z.literal("billing_receipt"),
  batch_id: z.string(),
  status: batchStatusSchema,
  quoted_total: moneySchema.describe("The locked total reserved at create."),
  settled_total: moneySchema.describe("What the batch cost: provider subtotal plus fee, never above the quoted total."),
  provider_subtotal: moneySchema,
  estimated_tokens: z
    .object({ input_tokens: z.number().int(), output_tokens: z.number().int() })
    .nullable()
    .describe("The tokens the batch was priced on (the quote's estimate)."),
  reported_tokens: z
    .object({ input_tokens: z.number().int(), output_tokens: z.number().int() })
    .describe("The tokens the providers reported for the batch's items; completed items are billed from them."),
  provider_lanes: z.array(
    z.object({
      lane_id: z.string(),
      provider: z.string(),
      model: z.string(),
      items: z.number().int().describe("Completed items billed on the lane."),
      failed_items: z.number().int(),
      input_tokens: z.number().int(),
      output_tokens: z.number().int(),
      provider_cost: moneySchema,
    }),
  ),
  rejected_lanes: z.array(z.object({ lane_id: z.string(), rejection_reasons: z.array(rejectionReason) })),
  batchrouter_fee: moneySchema,
  fee_rate: z.string().nullable(),
  customer_discount: moneySchema,
  sla_fee_refund: moneySchema.describe("The service fee refunded because the SLA deadline passed first."),
  reserved: moneySchema,
  released: moneySchema.describe("The unused part of the reservation, returned to the available balance."),
  settled_at: timestamp().nullable(),
});

/** The public batch object (`presentBatch`). */
export const batchObject = z.object({
  id: z.string().describe("bat_…"),
  object: z.literal("batch"),
  status: batchStatusSchema,
  state: legacyStateSchema,
  environment: environmentSchema,
  item_count: z.number().int(),
  counts: batchCounts,
  sla_tier: slaTierSchema,
  sla_deadline: timestamp(),
  routing_mode: routingModeSchema,
  privacy_tier: privacyTierSchema,
  allowed_regions: z.array(regionSchema),
  quote_id: z.string().nullable(),
  input_file_id: z.string().nullable(),
  pricing_estimate: pricingEstimate.describe("The quoted price; `total` is what was reserved."),
  settled_total: moneySchema.describe("Settled so far (provider cost plus fee)."),
  lanes: z.array(
    z.object({
      lane_id: z.string(),
      provider: z.string(),
      model: z.string(),
      item_count: z.number().int(),
      status: z.enum(["processing", "done"]),
    }),
  ),
  customer_explanation: z.string().nullable(),
  webhook: z.object({ url: z.string() }).nullable().describe("Where this batch's events go; its secret is never shown here."),
  metadata: z.record(z.string(), z.string()),
  error: errorInfoSchema.nullable().describe("Why the batch failed or expired; null otherwise."),
  created_at: timestamp(),
  updated_at: timestamp(),
  dispatched_at: timestamp().nullable(),
  completed_at: timestamp().nullable(),
  cancelled_at: timestamp().nullable(),
  failed_at: timestamp().nullable(),
  expired_at: timestamp().nullable(),
  route_receipt_url: z.string(),
  results_url: z.string(),
});

/** POST /v1/batches (202): a signing secret made for the batch's webhook is shown once, here. */
export const createdBatchObject = batchObject.extend({
  webhook: z
    .object({
      url: z.string(),
      secret: z
        .string()
        .nullable()
        .optional()
        .describe(
          "A signing secret made for this webhook, shown once; null on an idempotent replay. Absent when you sent one or the org's secret applies.",
        ),
    })
    .nullable(),
});
export const createBatchResponse = z.object({ batch: createdBatchObject });

/** GET /v1/batches/{id} and POST …/cancel: `{batch, id, status, state}` so old and new clients read it. */
export const batchEnvelope = z.object({
  batch: batchObject.extend({
    billing_receipt: billingReceiptObject.optional().describe("With include_billing_receipt=true, once the batch has ended."),
  }),
  id: z.string(),
  object: z.literal("batch"),
  status: batchStatusSchema,
  state: legacyStateSchema,
});

export const batchList = listOf(batchObject);

/** One item's result (`presentResult`), as the results page and the output/errors files show it. */
export const resultObject = z.object({
  customer_item_id: z.string(),
  status: z.enum(["completed", "failed"]).describe("failed covers failed, cancelled and expired items (see error.code)."),
  // Open by design: the normalised output of the item's operation (spec/api.md §3b).
  output: z
    .looseObject({})
    .nullable()
    .describe(
      "{text, content, tool_calls, finish_reason, model, provider_response_id} for responses and vision; {embeddings, dimensions} for embeddings; null when failed.",
    ),
  error: z
    .object({
      code: z.string().describe("provider_error, content_policy, invalid_input, context_length_exceeded, timeout, expired, cancelled…"),
      message: z.string(),
      provider_status: z.number().int().optional().describe("The provider's HTTP status, when it answered."),
    })
    .nullable(),
  usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }),
  lane_id: z.string().nullable(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  cost: moneySchema.describe("What the item cost at the provider (the fee is on the batch)."),
  metadata: z.record(z.string(), z.string()).nullable().describe("The item's own metadata, as sent."),
});

/** GET /v1/batches/{id}/results: a page in manifest order. */
export const resultsPage = z.object({
  object: z.literal("list"),
  batch_id: z.string(),
  results: z.array(resultObject),
  ...pageFields,
});

/** GET /v1/batches/{id}/artifact-url. */
export const artifactLinkObject = z.object({
  object: z.literal("artifact_url"),
  kind: z.enum(["output", "errors", "receipt"]),
  url: z.string().describe("A signed URL to the whole JSONL file; it works without a key until expires_at."),
  expires_at: timestamp().describe("15 minutes from now."),
  bytes: z.number().int(),
  sha256: z.string().describe("SHA-256 (hex) of the file."),
  format: z.literal("jsonl"),
  file_id: z.string().describe("The file (file_…) in GET /v1/files."),
});

/** GET /v1/batches/{id}/route-receipt. */
export const routeReceiptObject = z.object({
  object: z.literal("route_receipt"),
  batch_id: z.string(),
  routing_mode: routingModeSchema,
  sla_tier: slaTierSchema,
  privacy_tier: privacyTierSchema,
  allowed_regions: z.array(regionSchema),
  customer_explanation: z.string().nullable(),
  selected_lanes: z.array(quoteLaneObject),
  rejected_lanes: z.array(quoteLaneObject).describe("Every lane considered and not selected, with its reasons."),
  work_units: z.array(
    z.object({
      id: z.string().describe("wu_…"),
      lane_id: z.string(),
      attempt: z.number().int(),
      status: z.enum(["pending", "submitted", "collected", "failed", "cancelled"]),
      item_count: z.number().int(),
      execution: z.string().describe("live or simulated."),
      submitted_at: timestamp().nullable(),
      finished_at: timestamp().nullable(),
      fallback_order: z.array(z.string()),
    }),
  ),
  // Open: each kind of routing event records its own details.
  fallbacks: z.array(z.looseObject({ at: timestamp() })).describe("Lane changes: when, from, to and why."),
  retries: z.array(z.looseObject({ at: timestamp() })),
  events: z.array(z.looseObject({ kind: z.string(), at: timestamp() })).describe("Every routing event in order."),
  execution: z.string().describe("How the work units ran: live, simulated, or both (comma-separated)."),
});

/** GET /v1/batches/optimization-report. */
export const optimizationReportObject = z.object({
  object: z.literal("optimization_report"),
  import_provider: z.enum(["openai", "anthropic"]),
  window: z.enum(["24h", "7d", "30d"]),
  comparable_items: z.number().int(),
  not_comparable: z.array(z.object({ model: z.string(), items: z.number().int(), reason: z.string() })),
  baseline_cost: moneySchema.describe("The same work at the imported provider's list batch prices."),
  optimized_cost: moneySchema.describe("What it cost here."),
  savings_realized: moneySchema,
  savings_rate: z.number().nullable(),
  baseline_cost_trend: z.array(z.object({ day: z.iso.date(), cost: moneySchema, items: z.number().int() })),
  optimized_cost_trend: z.array(z.object({ day: z.iso.date(), cost: moneySchema, items: z.number().int() })),
  fallback_frequency: z.object({ fallbacks: z.number().int(), batches: z.number().int() }),
  provider_quality_drift: z.null().describe("Not measured yet."),
  verification_failures: z.null().describe("Not measured yet."),
  recommended_next_route_change: z.null().describe("Not measured yet."),
});
