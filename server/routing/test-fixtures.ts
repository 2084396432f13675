// Builders for tests of the routing engine (not used by production code).
import { laneId, SLA_TIERS_BY_MODE } from "../catalog/lanes.js";
import type { Lane } from "../catalog/types.js";
import type { RoutingConstraints, RoutingItem } from "./types.js";

type LaneSeed = Partial<Omit<Lane, "observed" | "privacy">> & {
  observed?: Partial<Lane["observed"]>;
  privacy?: Partial<Lane["privacy"]>;
};

/** A healthy, public, no-training us batch lane for model m1 at 1.00/2.00 USD per Mtok, unless told otherwise. */
export function makeLane(seed: LaneSeed = {}): Lane {
  const provider = seed.provider ?? "p1";
  const model = seed.model ?? "m1";
  const region = seed.region ?? "us";
  const mode = seed.mode ?? "batch";
  const input = seed.input_per_mtok_micros ?? 1_000_000;
  const output = seed.output_per_mtok_micros ?? 2_000_000;
  const { observed, privacy, ...rest } = seed;
  return {
    lane_id: laneId(provider, model, region, mode),
    served_as: model,
    protocol: mode === "batch" ? "openai-batch" : "realtime",
    operations: ["responses"],
    context_window: 128_000,
    max_output_tokens: 16_000,
    batch_discount_bps: 0,
    list_input_per_mtok_micros: input,
    list_output_per_mtok_micros: output,
    tool_support: true,
    hosted_tools: [],
    public: true,
    rescue: false,
    sla_tiers: [...SLA_TIERS_BY_MODE[mode]],
    capacity_items_per_hour: 10_000,
    healthy: true,
    ...rest,
    provider,
    model,
    region,
    mode,
    input_per_mtok_micros: input,
    output_per_mtok_micros: output,
    privacy: { zdr: false, no_training: true, data_collection: "deny", ...privacy },
    observed: { success_rate: 0.99, p50_turnaround_s: 3600, backlog_items: 0, samples: 0, ...observed },
  };
}

/** `count` items for the given models, each with 1,000 input and 500 output tokens unless told otherwise. */
export function makeItems(count: number, seed: Partial<RoutingItem> = {}, from = 0): RoutingItem[] {
  return Array.from({ length: count }, (_, i) => ({
    index: from + i,
    customer_item_id: `item-${from + i}`,
    operation: "responses",
    models: ["m1"],
    input_tokens: 1_000,
    output_tokens: 500,
    needs_tools: false,
    hosted_tools: [],
    ...seed,
  }));
}

/** Defaults of a quote: cheapest, standard tier, standard privacy, any region, fallbacks on. */
export function constraints(over: Partial<RoutingConstraints> = {}): RoutingConstraints {
  return {
    routing_mode: "cheapest",
    sla_tier: "standard",
    privacy_tier: "standard",
    allowed_regions: ["global"],
    max_price_micros: null,
    ...over,
    provider_preferences: { allow_fallbacks: true, ...over.provider_preferences },
  };
}
