import { z } from "zod";
import {
  laneModeSchema,
  privacyTierSchema,
  providerPreferencesSchema,
  regionSchema,
  routingModeSchema,
  slaTierSchema,
} from "../catalog/types.js";
import { moneySchema, timestamp } from "../responses.js";
import { CONSTRAINT_CODES } from "../routing/types.js";

/** Success bodies of the quote routes (server/quotes/service.ts, pricing.ts). */

export const rejectionReason = z.object({
  code: z
    .enum([...CONSTRAINT_CODES, "higher_price", "lower_score"])
    .describe("A hard constraint the lane fails for some items, or why an eligible lane lost (higher_price, lower_score)."),
  message: z.string(),
});

/** One lane considered for a manifest (`presentLane`), selected or not; batches keep these as their route report. */
export const quoteLaneObject = z.object({
  lane_id: z.string(),
  provider: z.string(),
  model: z.string(),
  region: regionSchema,
  mode: laneModeSchema,
  selected: z.boolean(),
  item_count: z.number().int().describe("Items assigned to the lane."),
  eligible_item_count: z.number().int().describe("Items that meet every hard constraint on the lane but its remaining capacity."),
  unit_price: z.object({ input_per_mtok: moneySchema, output_per_mtok: moneySchema }),
  estimated_cost: moneySchema.describe("What the eligible items would cost on this lane, selected or not, so lanes can be compared."),
  score: z.number().describe("The sla_aware score, 0 when no item is eligible."),
  rejection_reasons: z.array(rejectionReason),
});

/** The price block of a quote and of a batch (`presentPriceBlock`). */
export const pricingEstimate = z.object({
  provider_subtotal: moneySchema,
  batchrouter_fee: moneySchema,
  fee_rate: z.string().describe('The fee as a fraction of the provider subtotal, e.g. "0.0590".'),
  customer_discount: moneySchema,
  total: moneySchema.describe("What is reserved at submit; the most the batch can cost."),
  currency: z.literal("usd"),
});

/** POST /v1/quotes/model, /v1/batches/quote, /v1/quotes/workflow. */
export const quoteObject = z.object({
  quote_id: z.string().describe("qlock_…: pass it to create a batch with the same items to get this price."),
  id: z.string().describe("The quote id again."),
  object: z.literal("quote"),
  status: z.literal("open"),
  kind: z.enum(["items", "volume", "workflow"]).describe("volume: priced without the items, so a batch can't be created from it."),
  workflow: z.string().nullable().describe("The workflow product (name@vN) of a workflow quote."),
  environment: z.enum(["live", "test"]),
  expires_at: timestamp().describe("The price is locked until then (10 minutes)."),
  created_at: timestamp(),
  item_count: z.number().int(),
  estimated_tokens: z.object({
    input: z.number().int(),
    output: z.number().int(),
    method: z.enum(["exact", "sampled"]).describe("sampled: estimated from sample items or a default item size."),
  }),
  routing_mode: routingModeSchema,
  sla_tier: slaTierSchema,
  privacy_tier: privacyTierSchema,
  allowed_regions: z.array(regionSchema),
  // Open: the request's provider_preferences pass through as sent, with the defaults filled in.
  provider_preferences: z.looseObject({
    ...providerPreferencesSchema.partial().shape,
    allow_fallbacks: z.boolean(),
  }),
  max_price: moneySchema.nullable(),
  price_protection_policy: z.literal("lock_total").describe("The customer never pays more than the quoted total."),
  pricing_estimate: pricingEstimate,
  funding_preview: z.object({
    available: moneySchema,
    reserved: moneySchema,
    quote_total: moneySchema,
    shortfall: moneySchema.describe("What the available balance lacks to fund the quote; 0 when it can."),
    can_fund: z.boolean(),
  }),
  quote_lanes: z.array(quoteLaneObject).describe("Every lane considered, selected or not, with its reasons."),
  work_units: z
    .array(
      z.object({
        lane_id: z.string(),
        provider: z.string(),
        model: z.string(),
        region: regionSchema,
        mode: laneModeSchema,
        item_count: z.number().int(),
        estimated_cost: moneySchema,
        fallback_order: z.array(z.string()).describe("Lanes the items may move to if this one degrades, best first."),
      }),
    )
    .describe("How the items split across the selected lanes."),
  route_decision_preview: z.object({
    selected_provider: z.string().nullable(),
    selected_lane_id: z.string().nullable(),
    quality_score: z.number(),
    reliability_prior_score: z.number(),
    observed_confidence_score: z.number(),
    observed_confidence_basis: z.string(),
    trust_score: z.number(),
    fallback_order: z.array(z.string()),
    rejected_providers: z.array(z.string()),
  }),
  customer_explanation: z.string().describe("One or two plain sentences on where the items go and why."),
  metadata: z.record(z.string(), z.string()),
});

/** GET /v1/quotes/{id}: the quote as made, with its status now. */
export const storedQuoteObject = quoteObject.extend({
  status: z.enum(["open", "accepted", "expired"]),
  batch_id: z.string().nullable().describe("The batch that used the quote, once accepted."),
});
