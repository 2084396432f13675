import { z } from "zod";
import { listOf, moneySchema, timestamp } from "../responses.js";
import {
  hostedToolSchema,
  laneModeSchema,
  operationSchema,
  privacyTierSchema,
  protocolSchema,
  regionSchema,
  routePolicySchema,
  slaTierSchema,
  workflowProductSchema,
} from "./types.js";

/** Success bodies of the public catalog routes (server/catalog/presenters.ts, provider-directory.ts). */

export const executionSchema = z
  .enum(["live", "simulated", "off"])
  .describe("How this provider's lanes run here: live (real API calls), simulated (the built-in simulator) or off.");

const rateString = z.string().regex(/^\d+\.\d+$/);

const observedSchema = z.object({
  success_rate: z.number().describe("Share of items that succeeded, 0–1 (the catalog's prior until items are observed)."),
  p50_turnaround_s: z.number().int().describe("Median seconds from submit to result."),
  samples: z.number().int().describe("Finished items observed; 0 while the figures are the catalog's priors."),
});

/** One lane of a model (`presentOffering`): prices per million tokens after any batch discount. */
export const offeringObject = z.object({
  lane_id: z.string().describe("provider/model/region/mode"),
  provider: z.string(),
  region: regionSchema,
  mode: laneModeSchema,
  input_per_mtok: moneySchema.describe("USD per million input tokens, batch discount applied."),
  output_per_mtok: moneySchema.describe("USD per million output tokens, batch discount applied."),
  list_input_per_mtok: moneySchema.describe("The provider's list price per million input tokens."),
  list_output_per_mtok: moneySchema.describe("The provider's list price per million output tokens."),
  batch_discount: rateString.describe('The batch discount as a fraction, e.g. "0.50".'),
  privacy: z.object({ zdr: z.boolean(), data_collection: z.enum(["allow", "deny"]), no_training: z.boolean() }),
  tool_support: z.boolean(),
  hosted_tools: z.array(hostedToolSchema),
  public: z.boolean().describe("false for marketplace or edge supply (excluded by routing_mode public_only)."),
  rescue: z.boolean().describe("A last-resort lane, used only as a fallback."),
  sla_tiers: z.array(slaTierSchema),
  capacity: z.object({ items_per_hour: z.number().int() }),
  observed: observedSchema,
  execution: executionSchema,
});

/** A catalog model (`presentModel`) with the lanes that serve it. */
export const modelObject = z.object({
  object: z.literal("model"),
  slug: z.string().describe("Use as `model` in items."),
  display_name: z.string(),
  provider: z.string().describe("The provider the model is listed under: its maker, or its first public host."),
  operations: z.array(operationSchema),
  context_window: z.number().int(),
  max_input_tokens: z.number().int(),
  max_output_tokens: z.number().int(),
  embedding_dimensions: z.number().int().nullable(),
  tool_support: z.boolean(),
  hosted_tools: z.array(hostedToolSchema),
  provider_offerings: z.array(offeringObject),
});

/** GET /v1/catalog/models. */
export const modelList = listOf(modelObject).extend({
  provider_count: z.number().int().describe("Providers behind the offerings listed."),
  pricing_updated_at: timestamp(),
});

/** GET /v1/catalog/models/{slug}: with a body POST /v1/quotes/model accepts as it is. */
export const modelDetailObject = modelObject.extend({
  example_manifest: z.object({
    routing_mode: z.literal("cheapest"),
    sla_tier: z.literal("standard"),
    items: z.array(
      z.object({
        customer_item_id: z.string(),
        operation: operationSchema,
        model: z.string(),
        input: z.record(z.string(), z.unknown()).describe("The OpenAI-style body of the operation."),
        max_output_tokens: z.number().int().optional(),
      }),
    ),
  }),
});

const wp = workflowProductSchema.shape;

/** A workflow product (`presentWorkflowProduct`): its catalog entry, as the seed files define it. */
export const workflowProductObject = z.object({
  slug: wp.slug,
  object: z.literal("workflow_product"),
  name: z.string(),
  version: z.string().describe("vN"),
  title: wp.title,
  description: wp.description,
  operation: wp.operation,
  preset_manifest: wp.preset_manifest,
  routing_posture: wp.routing_posture.describe("The route policy (GET /v1/route-policies) whose defaults the workflow uses."),
  artifact_contract: wp.artifact_contract,
  default_route_products: wp.default_route_products,
  webhook_contract: wp.webhook_contract,
  success_sla: wp.success_sla,
  fee_rate: wp.fee_rate,
});

export const workflowProductList = listOf(workflowProductObject);

/** A named routing posture (`presentRoutePolicy`). */
export const routePolicyObject = routePolicySchema.extend({ object: z.literal("route_policy") });

export const routePolicyList = listOf(routePolicyObject);

/** GET /v1/pricing. */
export const pricingObject = z.object({
  object: z.literal("pricing"),
  standard_fee_rate: rateString.describe("Fee on model batches, as a fraction of the provider subtotal."),
  workflow_fee_rate: rateString.describe("Fee on workflow runs."),
  margin_floor_rate: rateString.describe("The least fee a quote keeps after any customer discount."),
  fee_basis: z.literal("provider_subtotal"),
  currency: z.literal("usd"),
  pricing_updated_at: timestamp(),
  notes: z.array(z.string()),
});

const reliability = observedSchema.nullable();

/** One provider of the directory (`presentProvider`). */
export const providerObject = z.object({
  object: z.literal("provider"),
  slug: z.string(),
  display_name: z.string(),
  regions: z.array(regionSchema),
  protocols: z.array(protocolSchema),
  planned_protocols: z.array(z.string()),
  batch_protocol: protocolSchema.nullable().describe("The provider's batch protocol; null for real-time only."),
  batch_discount: rateString,
  privacy: z.object({
    posture: privacyTierSchema,
    no_training: z.boolean(),
    data_collection: z.enum(["allow", "deny"]),
    zdr_lanes: z.enum(["all", "some", "none"]),
    notes: z.string(),
  }),
  public: z.boolean(),
  rescue: z.boolean(),
  execution: executionSchema,
  capacity_items_per_hour: z.partialRecord(laneModeSchema, z.number().int().nullable()),
  models: z.array(z.string()),
  lanes: z.array(z.object({ lane_id: z.string(), model: z.string(), region: regionSchema, mode: laneModeSchema })),
  observed: reliability.describe("Pooled over the provider's lanes; null without lanes."),
  observed_by_mode: z.object({ batch: reliability, realtime: reliability }),
  notes: z.string(),
});

export const providerList = listOf(providerObject);
