import { z } from "zod";
import { itemSchema } from "../manifest/item-schema.js";
import { formatUsd, tryParseUsd } from "../money.js";
import {
  operationSchema,
  privacyTierSchema,
  providerPreferencesSchema,
  regionSchema,
  routingModeSchema,
  slaTierSchema,
} from "../catalog/types.js";

export const MAX_INLINE_ITEMS = 100_000;
export const MAX_ESTIMATED_ITEMS = 1_000_000;

/** The largest amount we take: 2^53 − 1 micro-dollars, the most an integer count holds exactly. */
const MAX_USD = formatUsd(Number.MAX_SAFE_INTEGER);

const usdAmount = z
  .string()
  .regex(/^\d+(\.\d{1,6})?$/, "a decimal USD amount with up to 6 places")
  .refine((v) => tryParseUsd(v) !== undefined, `at most ${MAX_USD} USD`);

/** A decimal USD string or a Money object, as the contract allows for `max_price`. */
export const moneyInput = z
  .union([usdAmount, z.strictObject({ amount: usdAmount, currency: z.literal("usd").default("usd") })])
  .transform((v) => (typeof v === "string" ? v : v.amount));

export const webhookInput = z.strictObject({
  url: z.string().url().max(2048).describe("https URL that receives batch events."),
  secret: z.string().min(8).max(256).optional().describe("Signs deliveries (HMAC-SHA256); the org's secret when omitted."),
});

/** Routing constraints shared by quotes, batches and workflows. */
export const constraintFields = {
  routing_mode: routingModeSchema.optional().describe("cheapest (default) | sla_aware | hybrid | public_only."),
  sla_tier: slaTierSchema.optional().describe("flex (48 h) | standard (24 h, default) | priority (1 h, real-time lanes only)."),
  privacy_tier: privacyTierSchema.optional().describe("standard (default) | no_training | zdr."),
  allowed_regions: z.array(regionSchema).min(1).max(4).optional().describe('["global"] (default) or any of us, eu, apac.'),
  provider_preferences: z
    .looseObject(providerPreferencesSchema.partial().shape)
    .optional()
    .describe("{only?, ignore?, order?, allow_fallbacks? (default true), data_collection?: allow|deny, zdr?}."),
  max_price: moneyInput.optional().describe("Ceiling for the whole quote: Money or a decimal USD string."),
  price_protection_policy: z.enum(["lock_total"]).optional().describe("lock_total (default): you never pay more than the quoted total."),
  metadata: z.record(z.string().max(64), z.string().max(512)).optional().describe("Up to 16 string pairs."),
};

/**
 * A manifest, as sent to quote and to create: inline `items`, an uploaded `input_file_id`, or a
 * volume (`models`/`model` + `estimated_items`) priced without the items.
 */
export const manifestShape = {
  items: z
    .array(z.unknown())
    .min(1)
    .max(MAX_INLINE_ITEMS)
    .optional()
    .describe("The model calls: {customer_item_id, operation?, model?, model_options?, input, metadata?, tools?, max_output_tokens?}."),
  input_file_id: z.string().min(1).max(64).optional().describe("An uploaded manifest (POST /v1/batches/input-manifests)."),
  models: z.array(z.string().min(1).max(200)).min(1).max(20).optional().describe("Volume quote: the candidate models."),
  model: z.string().min(1).max(200).optional().describe("Volume quote: one model; or the default model of items without one."),
  estimated_items: z.number().int().positive().max(MAX_ESTIMATED_ITEMS).optional().describe("Volume quote: how many items you will send."),
  sample_items: z.array(z.unknown()).min(1).max(1000).optional().describe("Volume quote: a few representative items to size the estimate."),
  operation: operationSchema.optional().describe("Default operation of items that don't say."),
  task: operationSchema.optional().describe("Alias of `operation`."),
  ...constraintFields,
  webhook: webhookInput.optional(),
  delivery: z
    .looseObject({ webhook_url: z.string().url().max(2048).optional() })
    .optional()
    .describe("Alias: {webhook_url} is a webhook without its own secret."),
};

export const quoteRequestSchema = z.strictObject(manifestShape).superRefine((v, ctx) => {
  const sources = [v.items !== undefined, v.input_file_id !== undefined, v.estimated_items !== undefined].filter(Boolean).length;
  if (sources === 0)
    ctx.addIssue({
      code: "custom",
      path: ["items"],
      message: "send `items`, an `input_file_id`, or `estimated_items` with `models`/`model`",
    });
  if (sources > 1)
    ctx.addIssue({ code: "custom", path: ["items"], message: "send only one of `items`, `input_file_id` and `estimated_items`" });
  if (v.estimated_items !== undefined && !v.models && !v.model)
    ctx.addIssue({ code: "custom", path: ["models"], message: "a volume quote needs `models` or `model`" });
  if (v.metadata && Object.keys(v.metadata).length > 16) ctx.addIssue({ code: "custom", path: ["metadata"], message: "at most 16 pairs" });
});

export type QuoteRequest = z.infer<typeof quoteRequestSchema>;

export const workflowQuoteSchema = z
  .strictObject({
    workflow: z.string().min(1).max(200).describe("A workflow product, e.g. classify-support-tickets@v3."),
    estimated_items: z.number().int().positive().max(MAX_ESTIMATED_ITEMS).optional().describe("How many inputs you will send."),
    items: z.array(z.unknown()).min(1).max(MAX_INLINE_ITEMS).optional().describe("Full items, overriding the preset's template."),
    inputs: z
      .array(z.unknown())
      .min(1)
      .max(MAX_INLINE_ITEMS)
      .optional()
      .describe("Customer inputs filled into the preset's item template."),
  })
  .superRefine((v, ctx) => {
    const n = [v.estimated_items, v.items, v.inputs].filter((x) => x !== undefined).length;
    if (n !== 1)
      ctx.addIssue({ code: "custom", path: ["estimated_items"], message: "send exactly one of `estimated_items`, `items` and `inputs`" });
  });

export const quoteIdParams = z.object({ id: z.string().max(64) });

export { itemSchema };
