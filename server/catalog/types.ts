import { z } from "zod";

// Vocabulary shared by the catalog files, the lanes and the routing engine.
export const operationSchema = z.enum(["responses", "embeddings", "vision"]);
export const regionSchema = z.enum(["us", "eu", "apac", "global"]);
export const laneModeSchema = z.enum(["batch", "realtime"]);
export const slaTierSchema = z.enum(["flex", "standard", "priority"]);
export const privacyTierSchema = z.enum(["standard", "no_training", "zdr"]);
export const routingModeSchema = z.enum(["cheapest", "sla_aware", "hybrid", "public_only"]);
export const protocolSchema = z.enum(["openai-batch", "anthropic-batch", "realtime"]);
export const hostedToolSchema = z.enum(["web_search", "python_execution", "calculator", "time", "file_search", "retrieval"]);
export const webhookEventSchema = z.enum([
  "batch.submitted",
  "batch.progress",
  "batch.completed",
  "batch.failed",
  "batch.cancelled",
  "batch.expired",
]);

export type Operation = z.infer<typeof operationSchema>;
export type Region = z.infer<typeof regionSchema>;
export type LaneMode = z.infer<typeof laneModeSchema>;
export type SlaTier = z.infer<typeof slaTierSchema>;
export type PrivacyTier = z.infer<typeof privacyTierSchema>;
export type RoutingMode = z.infer<typeof routingModeSchema>;
export type Protocol = z.infer<typeof protocolSchema>;
export type HostedTool = z.infer<typeof hostedToolSchema>;

/** How a provider runs live keys' work here: for real, not configured (test keys only), or switched off. */
export type ProviderMode = "live" | "simulated" | "off";

/** Deadline of each SLA tier, in hours (api.md §3). */
export const SLA_DEADLINE_HOURS: Readonly<Record<SlaTier, number>> = { flex: 48, standard: 24, priority: 1 };

const slug = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'a lower-case slug such as "gpt-4o-mini"');
const text = z.string().min(1);
// Prices stay decimal strings in the files so an operator types what the provider's page says; more
// than 6 decimals could not become whole micro-dollars per million tokens.
const usdPerMtok = z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'a USD decimal string with at most 6 decimals, e.g. "0.15"');
const count = z.int().nonnegative();
const jsonSchemaDoc = z
  .record(z.string(), z.unknown())
  .refine(
    (s) => "type" in s || "anyOf" in s || "oneOf" in s || "enum" in s || "const" in s,
    "a JSON Schema object (with type, anyOf, oneOf, enum or const)",
  );

const priorSchema = z.strictObject({
  success_rate: z.number().gt(0).max(1),
  p50_turnaround_s: z.number().positive(),
});
const perMode = <T extends z.ZodType>(s: T) => z.strictObject({ batch: s.optional(), realtime: s.optional() });

export const providerSchema = z.strictObject({
  slug,
  display_name: text,
  protocols: z.array(protocolSchema).min(1),
  planned_protocols: z.array(z.string()).default([]),
  regions: z.array(regionSchema).min(1),
  batch_discount_bps: z.int().min(0).max(10_000),
  /** What one provider batch may hold (spec/providers.md): the adapter splits a work unit to fit. */
  batch_limits: z.strictObject({ max_requests: z.int().positive(), max_bytes: z.int().positive() }).optional(),
  privacy: z.strictObject({
    posture: privacyTierSchema,
    // Where a no_training provider is also zero-data-retention (e.g. azure-openai's eu deployments).
    zdr_lanes: z
      .strictObject({
        regions: z.array(regionSchema).min(1).optional(),
        modes: z.array(laneModeSchema).min(1).optional(),
      })
      .optional(),
    notes: z.string().default(""),
  }),
  public: z.boolean(),
  rescue: z.boolean().default(false),
  capacity_items_per_hour: perMode(z.int().positive()),
  observed_priors: perMode(priorSchema),
  notes: z.string().default(""),
});

export const offeringSchema = z.strictObject({
  provider: slug,
  input_per_mtok: usdPerMtok,
  output_per_mtok: usdPerMtok,
  regions: z.array(regionSchema).min(1).optional(),
  hosted_tools: z.array(hostedToolSchema).optional(),
  /** The provider's own name for the model, when it isn't our slug (e.g. "llama-3.1-8b-instant"). */
  served_as: text.optional(),
});

export const modelSchema = z.strictObject({
  slug,
  display_name: text,
  family: text,
  operations: z.array(operationSchema).min(1),
  context_window: z.int().positive(),
  max_output_tokens: count,
  typical_output_tokens: count,
  embedding_dimensions: z.int().positive().optional(),
  tool_support: z.boolean(),
  hosted_tools: z.array(hostedToolSchema),
  offerings: z.array(offeringSchema).min(1),
});

export const providerPreferencesSchema = z.strictObject({
  only: z.array(slug).optional(),
  ignore: z.array(slug).optional(),
  order: z.array(slug).optional(),
  allow_fallbacks: z.boolean().default(true),
  data_collection: z.enum(["allow", "deny"]).optional(),
  zdr: z.boolean().optional(),
});

export const routePolicySchema = z.strictObject({
  name: slug,
  title: text,
  description: text,
  routing_mode: routingModeSchema,
  sla_tier: slaTierSchema,
  privacy_tier: privacyTierSchema,
  allowed_regions: z.array(regionSchema).min(1),
  provider_preferences: providerPreferencesSchema,
});

export const workflowProductSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*@v[1-9]\d*$/, 'name@vN, e.g. "classify-support-tickets@v3"'),
  title: text,
  description: text,
  operation: operationSchema,
  preset_manifest: z.strictObject({
    operation: operationSchema,
    routing_mode: routingModeSchema,
    sla_tier: slaTierSchema,
    privacy_tier: privacyTierSchema,
    allowed_regions: z.array(regionSchema).min(1),
    model: slug,
    model_options: z.array(slug).default([]),
    max_output_tokens: count.optional(),
    input_schema: jsonSchemaDoc,
    item_template: z.record(z.string(), z.unknown()),
  }),
  routing_posture: slug,
  artifact_contract: z.strictObject({ result_schema: jsonSchemaDoc, exception_schema: jsonSchemaDoc }),
  default_route_products: z.array(z.string().regex(/^[a-z0-9.-]+\/[a-z0-9.-]+$/, "provider/model")),
  webhook_contract: z.strictObject({
    events: z.array(webhookEventSchema).min(1),
    signature_headers: z.array(text).min(1),
    timeout_s: z.int().positive(),
    max_attempts: z.int().positive(),
    retry_window_hours: z.int().positive(),
  }),
  success_sla: z.strictObject({
    sla_tier: slaTierSchema,
    deadline_hours: z.number().positive(),
    min_success_rate: z.number().min(0).max(1),
    on_miss: z.enum(["refund_service_fee"]),
  }),
  fee_rate: z.string().regex(/^0\.\d{1,6}$/, 'a fraction as a decimal string, e.g. "0.1180"'),
});

export const catalogMetaSchema = z.looseObject({
  pricing_updated_at: z.iso.datetime({ offset: true }),
});

export type Provider = z.infer<typeof providerSchema>;
export type Offering = z.infer<typeof offeringSchema>;
export type Model = z.infer<typeof modelSchema>;
export type ProviderPreferences = z.infer<typeof providerPreferencesSchema>;
export type RoutePolicy = z.infer<typeof routePolicySchema>;
export type WorkflowProduct = z.infer<typeof workflowProductSchema>;
export type CatalogMeta = z.infer<typeof catalogMetaSchema>;

/** The whole seed catalog, validated and cross-checked (see parse-catalog.ts). */
export interface Catalog {
  meta: CatalogMeta;
  providers: Provider[];
  models: Model[];
  route_policies: RoutePolicy[];
  workflow_products: WorkflowProduct[];
}

export interface LanePrivacy {
  zdr: boolean;
  no_training: boolean;
  data_collection: "allow" | "deny";
}

export interface LaneObserved {
  success_rate: number;
  p50_turnaround_s: number;
  backlog_items: number;
  /** 0 while the figures are the catalog's priors; the learning loop counts real observations. */
  samples: number;
}

/** One (provider, model, region, mode): the unit routing chooses between. Prices are integers. */
export interface Lane {
  lane_id: string;
  provider: string;
  model: string;
  region: Region;
  mode: LaneMode;
  protocol: Protocol;
  operations: Operation[];
  context_window: number;
  max_output_tokens: number;
  /** Micro-dollars per million tokens, batch discount applied on batch lanes. */
  input_per_mtok_micros: number;
  output_per_mtok_micros: number;
  batch_discount_bps: number;
  list_input_per_mtok_micros: number;
  list_output_per_mtok_micros: number;
  privacy: LanePrivacy;
  tool_support: boolean;
  hosted_tools: string[];
  public: boolean;
  rescue: boolean;
  sla_tiers: SlaTier[];
  capacity_items_per_hour: number;
  observed: LaneObserved;
  healthy: boolean;
  /** The model name the provider expects in requests (our slug unless the offering says otherwise). */
  served_as: string;
  /** Batch lanes: what one provider batch may hold. */
  batch_limits?: { max_requests: number; max_bytes: number };
}
