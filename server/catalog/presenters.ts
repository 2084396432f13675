import { errors, fail } from "../errors.js";
import { money } from "../money.js";
import { regionAllowed } from "../routing/eligibility.js";
import { formatRate, MARGIN_FLOOR_BPS, STANDARD_FEE_BPS, WORKFLOW_FEE_BPS } from "./fees.js";
import { findWorkflowProduct } from "./parse-catalog.js";
import type { ModelFilter } from "./schemas.js";
import type { CatalogSnapshot } from "./store.js";
import type { Lane, Model, Operation, ProviderMode, RoutePolicy, WorkflowProduct } from "./types.js";

/** How a provider's lanes run here: real API calls, the built-in simulator, or not at all. */
export type ExecutionModes = Readonly<Record<string, ProviderMode>>;

// Until an adapter reports otherwise, nothing is sent to a real provider: say so rather than imply it.
export const executionOf = (modes: ExecutionModes, provider: string): ProviderMode => modes[provider] ?? "simulated";

/** Public catalog lists are small and whole; the paging fields are there so generic list clients work. */
export const wholeList = <T>(data: T[]) => ({ object: "list" as const, data, has_more: false, next_cursor: null });

// Learned rates carry float noise (0.98765432…); four places is as much as a reader can use.
export const rate4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** One lane as a model's offering: prices after the batch discount, with the list prices beside them. */
export function presentOffering(lane: Lane, modes: ExecutionModes) {
  return {
    lane_id: lane.lane_id,
    provider: lane.provider,
    region: lane.region,
    mode: lane.mode,
    input_per_mtok: money(lane.input_per_mtok_micros),
    output_per_mtok: money(lane.output_per_mtok_micros),
    list_input_per_mtok: money(lane.list_input_per_mtok_micros),
    list_output_per_mtok: money(lane.list_output_per_mtok_micros),
    batch_discount: formatRate(lane.batch_discount_bps, 2),
    privacy: { zdr: lane.privacy.zdr, data_collection: lane.privacy.data_collection, no_training: lane.privacy.no_training },
    tool_support: lane.tool_support,
    // Per lane because a host may run fewer hosted tools than the model has (e.g. openrouter).
    hosted_tools: [...lane.hosted_tools],
    public: lane.public,
    rescue: lane.rescue,
    sla_tiers: [...lane.sla_tiers],
    capacity: { items_per_hour: lane.capacity_items_per_hour },
    observed: {
      success_rate: rate4(lane.observed.success_rate),
      p50_turnaround_s: Math.round(lane.observed.p50_turnaround_s),
      samples: lane.observed.samples,
    },
    execution: executionOf(modes, lane.provider),
  };
}

/**
 * The provider a model is listed under. The catalog lists a model's maker first where the maker
 * serves it (openai, anthropic, google, mistral); for open-weight models it is the first public
 * host, so a marketplace-only supplier is never presented as the model's home.
 */
function primaryProvider(model: Model, snap: CatalogSnapshot): string {
  const first = model.offerings.find((o) => snap.providerBySlug.get(o.provider)?.public) ?? model.offerings[0]!;
  return first.provider;
}

/** A catalog model with the given lanes as its offerings (already narrowed by any filter). */
export function presentModel(model: Model, lanes: Lane[], snap: CatalogSnapshot, modes: ExecutionModes) {
  return {
    object: "model" as const,
    slug: model.slug,
    display_name: model.display_name,
    provider: primaryProvider(model, snap),
    operations: [...model.operations],
    context_window: model.context_window,
    // The catalog records the context window and the output cap; a prompt may use the rest, so a
    // request that asks for the full output cap still fits.
    max_input_tokens: model.context_window - model.max_output_tokens,
    max_output_tokens: model.max_output_tokens,
    embedding_dimensions: model.embedding_dimensions ?? null,
    tool_support: model.tool_support,
    hosted_tools: [...model.hosted_tools],
    provider_offerings: lanes.map((l) => presentOffering(l, modes)),
  };
}

function lanesByModel(lanes: Lane[]): Map<string, Lane[]> {
  const out = new Map<string, Lane[]>();
  for (const l of lanes) out.set(l.model, [...(out.get(l.model) ?? []), l]);
  return out;
}

/** GET /v1/catalog/models: models in catalog order, narrowed by the filters. */
export function listModels(snap: CatalogSnapshot, filter: ModelFilter, modes: ExecutionModes) {
  const { operation, provider, hosted_tool, region } = filter;
  // Providers are data, not an enum in code, so the query schema can't reject a typo; a silent empty
  // list would read as "nobody serves this", so the answer is the same 400 as a bad enum value.
  if (provider && !snap.providerBySlug.has(provider)) {
    const message = `unknown provider "${provider}"; one of: ${[...snap.providerBySlug.keys()].join(", ")}`;
    throw fail.invalidRequest(`Invalid query: /provider: ${message}`, {
      location: "query",
      errors: [{ path: "/provider", message }],
    });
  }
  const byModel = lanesByModel(snap.lanes);
  const data: ReturnType<typeof presentModel>[] = [];
  for (const model of snap.catalog.models) {
    if (operation && !model.operations.includes(operation)) continue;
    // Region matching is routing's own rule: a global lane is not an eu lane, and `global` means any.
    const lanes = (byModel.get(model.slug) ?? []).filter(
      (l) => (!provider || l.provider === provider) && (!region || regionAllowed(l.region, [region])),
    );
    if (lanes.length === 0) continue;
    if (hosted_tool && !lanes.some((l) => l.hosted_tools.includes(hosted_tool))) continue;
    data.push(presentModel(model, lanes, snap, modes));
  }
  return {
    ...wholeList(data),
    // Providers behind the offerings listed, so the figure follows the filters.
    provider_count: new Set(data.flatMap((m) => m.provider_offerings.map((o) => o.provider))).size,
    pricing_updated_at: new Date(snap.catalog.meta.pricing_updated_at).toISOString(),
  };
}

/** The operation the example shows: text first, since most models do it and it is the quickstart's. */
function exampleOperation(model: Model): Operation {
  return model.operations.includes("responses") ? "responses" : model.operations[0]!;
}

function exampleInput(operation: Operation): Record<string, unknown> {
  switch (operation) {
    case "embeddings":
      return { input: "BatchRouter sends each item to the cheapest lane that meets its constraints." };
    case "vision":
      return {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Describe this image in one sentence." },
              { type: "image_url", image_url: { url: "https://example.com/image.png" } },
            ],
          },
        ],
      };
    default:
      return { messages: [{ role: "user", content: "Summarize in one sentence: batch APIs trade latency for a lower price." }] };
  }
}

/** A body that POST /v1/quotes/model accepts as it is, for this model. */
export function exampleManifest(model: Model) {
  const operation = exampleOperation(model);
  return {
    routing_mode: "cheapest",
    sla_tier: "standard",
    items: [
      {
        customer_item_id: "item-1",
        operation,
        model: model.slug,
        input: exampleInput(operation),
        // Embeddings have no output tokens; elsewhere a small cap keeps the example's quote small.
        ...(operation === "embeddings" ? {} : { max_output_tokens: Math.min(256, model.max_output_tokens) }),
      },
    ],
  };
}

/** GET /v1/catalog/models/{slug}: every offering, plus an example manifest. */
export function getModel(snap: CatalogSnapshot, slug: string, modes: ExecutionModes) {
  const model = snap.modelBySlug.get(slug);
  if (!model) throw errors.notFound("model");
  const lanes = snap.lanes.filter((l) => l.model === slug);
  return { ...presentModel(model, lanes, snap, modes), example_manifest: exampleManifest(model) };
}

export function presentWorkflowProduct(w: WorkflowProduct) {
  const [name, version] = w.slug.split("@") as [string, string];
  return {
    slug: w.slug,
    object: "workflow_product" as const,
    name,
    version,
    title: w.title,
    description: w.description,
    operation: w.operation,
    preset_manifest: w.preset_manifest,
    routing_posture: w.routing_posture,
    artifact_contract: w.artifact_contract,
    default_route_products: [...w.default_route_products],
    webhook_contract: w.webhook_contract,
    success_sla: w.success_sla,
    fee_rate: w.fee_rate,
  };
}

export const listWorkflowProducts = (snap: CatalogSnapshot) => wholeList(snap.catalog.workflow_products.map(presentWorkflowProduct));

/** By `name@vN`, or by bare name for the newest version. */
export function getWorkflowProduct(snap: CatalogSnapshot, slugOrName: string) {
  const w = findWorkflowProduct(snap.catalog.workflow_products, slugOrName);
  if (!w) throw errors.notFound("workflow product");
  return presentWorkflowProduct(w);
}

export const presentRoutePolicy = (p: RoutePolicy) => ({ object: "route_policy" as const, ...p });

export const listRoutePolicies = (snap: CatalogSnapshot) => wholeList(snap.catalog.route_policies.map(presentRoutePolicy));

/** GET /v1/pricing: BatchRouter's own fees; provider prices are on each offering. */
export function presentFeeSchedule(snap: CatalogSnapshot) {
  return {
    object: "pricing" as const,
    standard_fee_rate: formatRate(STANDARD_FEE_BPS),
    workflow_fee_rate: formatRate(WORKFLOW_FEE_BPS),
    margin_floor_rate: formatRate(MARGIN_FLOOR_BPS),
    fee_basis: "provider_subtotal",
    currency: "usd" as const,
    pricing_updated_at: new Date(snap.catalog.meta.pricing_updated_at).toISOString(),
    notes: [
      "Fees are a fraction of the provider subtotal: standard_fee_rate on model batches, workflow_fee_rate on workflow runs.",
      "margin_floor_rate is the least fee a quote keeps after any customer discount.",
      "Provider prices are per million tokens on each catalog offering; batch lanes already include the provider's batch discount.",
      "A quote's total is locked for 10 minutes; the customer never pays more than the quoted total.",
    ],
  };
}
