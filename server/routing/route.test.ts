import { describe, expect, it } from "vitest";
import { expandLanes } from "../catalog/lanes.js";
import { loadCatalogFromDisk } from "../catalog/load-catalog.js";
import { explain } from "./explain.js";
import { route } from "./route.js";
import { constraints, makeItems, makeLane } from "./test-fixtures.js";
import type { LaneReport, RoutingResult } from "./types.js";

const catalog = await loadCatalogFromDisk();
const seedLanes = expandLanes(catalog);
const providerNames = Object.fromEntries(catalog.providers.map((p) => [p.slug, p.display_name]));

const report = (r: RoutingResult, laneId: string): LaneReport => {
  const l = r.lanes.find((x) => x.lane_id === laneId);
  if (!l) throw new Error(`lane ${laneId} was not considered`);
  return l;
};
const codes = (r: RoutingResult, laneId: string) => report(r, laneId).rejection_reasons.map((x) => x.code);
const unitLanes = (r: RoutingResult) => r.work_units.map((u) => [u.lane_id, u.item_count]);

describe("cheapest", () => {
  it("sends gpt-4o-mini items to the cheapest lane, in catalog order on a tie, at an exact cost", () => {
    const r = route(makeItems(8, { models: ["gpt-4o-mini"] }), constraints(), seedLanes);
    expect(unitLanes(r)).toEqual([["openai/gpt-4o-mini/us/batch", 8]]);
    // 8 × (1,000 × 75,000 + 500 × 300,000) pico-dollars = 1,800 micro-dollars.
    expect(r.work_units[0]!.estimated_cost_micros).toBe(1_800);
    expect(r.decision).toMatchObject({ selected_provider: "openai", total_estimated_cost_micros: 1_800, assigned_item_count: 8 });
    expect(codes(r, "azure-openai/gpt-4o-mini/eu/batch")).toEqual(["higher_price"]);
    expect(report(r, "openai/gpt-4o-mini/us/realtime")).toMatchObject({ eligible_item_count: 8, estimated_cost_micros: 3_600 });
    expect(explain(r, { providerNames })).toMatch(/^8 items go to OpenAI's batch lane for gpt-4o-mini in us at \$0\.001800\./);
  });

  it("considers every lane of every candidate model and picks the cheapest across models", () => {
    const r = route(makeItems(5, { models: ["gpt-4o-mini", "llama-3.1-8b-instruct"] }), constraints(), seedLanes);
    expect(unitLanes(r)).toEqual([["autonomousc/llama-3.1-8b-instruct/eu/realtime", 5]]);
    const considered = seedLanes.filter((l) => l.model === "gpt-4o-mini" || l.model === "llama-3.1-8b-instruct");
    expect(r.lanes.map((l) => l.lane_id)).toEqual(considered.map((l) => l.lane_id));
    expect(r.lanes.filter((l) => !l.selected).every((l) => l.rejection_reasons.length > 0)).toBe(true);
  });

  it("rounds a unit cost up to a whole micro-dollar once", () => {
    const r = route(makeItems(3, { models: ["gpt-4o-mini"], input_tokens: 1, output_tokens: 0 }), constraints(), seedLanes);
    expect(r.work_units[0]!.estimated_cost_micros).toBe(1); // 3 × 75,000 pico = 0.225 micro-dollars
  });

  it("skips a lane without room for the whole group (capacity_full)", () => {
    const lanes = [makeLane({ provider: "cheap", capacity_items_per_hour: 1, input_per_mtok_micros: 100 }), makeLane({ provider: "dear" })];
    const r = route(makeItems(30), constraints(), lanes);
    expect(unitLanes(r)).toEqual([["dear/m1/us/batch", 30]]);
    expect(codes(r, "cheap/m1/us/batch")).toEqual(["capacity_full"]);
    expect(report(r, "cheap/m1/us/batch").rejection_reasons[0]!.message).toContain("about 24 items within the standard deadline of 24 h");
  });

  it("counts queued backlog against capacity", () => {
    const lanes = [makeLane({ capacity_items_per_hour: 1, observed: { backlog_items: 20 } })];
    const r = route(makeItems(5), constraints(), lanes);
    expect(r.unroutable.map((u) => u.reasons.map((x) => x.code))).toEqual(Array(5).fill(["capacity_full"]));
  });
});

describe("hybrid", () => {
  it("fills the cheapest lane and spills the rest to the next cheapest", () => {
    const lanes = [makeLane({ provider: "cheap", capacity_items_per_hour: 1, input_per_mtok_micros: 100 }), makeLane({ provider: "dear" })];
    const r = route(makeItems(30), constraints({ routing_mode: "hybrid" }), lanes);
    expect(unitLanes(r)).toEqual([
      ["cheap/m1/us/batch", 24],
      ["dear/m1/us/batch", 6],
    ]);
    expect(r.work_units[1]!.item_indexes).toEqual([24, 25, 26, 27, 28, 29]);
    expect(codes(r, "cheap/m1/us/batch")).toEqual(["capacity_full"]);
  });
});

describe("sla_aware", () => {
  it("prefers a reliable lane to a slightly cheaper flaky one", () => {
    const lanes = [
      makeLane({ provider: "flaky", input_per_mtok_micros: 900_000, observed: { success_rate: 0.6 } }),
      makeLane({ provider: "solid", observed: { success_rate: 0.995 } }),
    ];
    const r = route(makeItems(10), constraints({ routing_mode: "sla_aware" }), lanes);
    expect(unitLanes(r)).toEqual([["solid/m1/us/batch", 10]]);
    expect(codes(r, "flaky/m1/us/batch")).toEqual(["lower_score"]);
    expect(report(r, "solid/m1/us/batch").score).toBeGreaterThan(report(r, "flaky/m1/us/batch").score);
    // Under cheapest the flaky lane wins on price.
    expect(unitLanes(route(makeItems(10), constraints(), lanes))).toEqual([["flaky/m1/us/batch", 10]]);
  });

  it("avoids a lane whose backlog would eat the deadline", () => {
    const lanes = [
      makeLane({ provider: "busy", input_per_mtok_micros: 800_000, capacity_items_per_hour: 100, observed: { backlog_items: 2_300 } }),
      makeLane({ provider: "idle" }),
    ];
    const r = route(makeItems(10), constraints({ routing_mode: "sla_aware" }), lanes);
    expect(unitLanes(r)).toEqual([["idle/m1/us/batch", 10]]);
  });
});

describe("public_only", () => {
  it("uses public providers only", () => {
    const r = route(makeItems(4, { models: ["llama-3.1-8b-instruct"] }), constraints({ routing_mode: "public_only" }), seedLanes);
    expect(unitLanes(r)).toEqual([["deepinfra/llama-3.1-8b-instruct/us/batch", 4]]);
    expect(codes(r, "autonomousc/llama-3.1-8b-instruct/us/realtime")).toEqual(["not_public"]);
  });
});

describe("hard constraints", () => {
  const mini = makeItems(2, { models: ["gpt-4o-mini"] });

  it("zdr needs a zero-data-retention lane: azure-openai eu only for gpt-4o-mini", () => {
    const r = route(mini, constraints({ privacy_tier: "zdr" }), seedLanes);
    expect(unitLanes(r)).toEqual([["azure-openai/gpt-4o-mini/eu/batch", 2]]);
    expect(codes(r, "openai/gpt-4o-mini/us/batch")).toEqual(["privacy_tier_unmet"]);
    expect(r.work_units[0]!.fallback_order).toEqual(["azure-openai/gpt-4o-mini/eu/realtime"]);
  });

  it("never makes an anthropic batch lane a zdr lane", () => {
    const r = route(makeItems(2, { models: ["claude-haiku-4"] }), constraints({ privacy_tier: "zdr" }), seedLanes);
    expect(r.work_units.every((u) => u.provider === "aws-bedrock")).toBe(true);
    expect(codes(r, "anthropic/claude-haiku-4/us/batch")).toEqual(["privacy_tier_unmet"]);
  });

  it("no_training and data_collection deny rule out standard providers", () => {
    for (const c of [
      constraints({ privacy_tier: "no_training" }),
      constraints({ provider_preferences: { allow_fallbacks: true, data_collection: "deny" } }),
    ]) {
      const r = route(makeItems(2, { models: ["llama-3.1-8b-instruct"] }), c, seedLanes);
      expect(unitLanes(r)).toEqual([["deepinfra/llama-3.1-8b-instruct/us/batch", 2]]);
      expect(codes(r, "autonomousc/llama-3.1-8b-instruct/us/realtime")).toEqual(["privacy_tier_unmet"]);
    }
  });

  it("provider_preferences.zdr needs zdr lanes", () => {
    const r = route(mini, constraints({ provider_preferences: { allow_fallbacks: true, zdr: true } }), seedLanes);
    expect(r.work_units.map((u) => u.lane_id)).toEqual(["azure-openai/gpt-4o-mini/eu/batch"]);
  });

  it('allowed regions: a global lane is not an eu lane, and ["global"] allows any', () => {
    const eu = route(mini, constraints({ allowed_regions: ["eu"], sla_tier: "priority" }), seedLanes);
    expect(unitLanes(eu)).toEqual([["openai/gpt-4o-mini/eu/realtime", 2]]);
    expect(codes(eu, "openrouter/gpt-4o-mini/global/realtime")).toEqual(["region_not_allowed"]);
    expect(codes(eu, "openai/gpt-4o-mini/us/batch")).toEqual(["region_not_allowed", "sla_unmet"]);
    const onlyRescue = route(mini, constraints({ provider_preferences: { allow_fallbacks: true, only: ["openrouter"] } }), seedLanes);
    expect(unitLanes(onlyRescue)).toEqual([["openrouter/gpt-4o-mini/global/realtime", 2]]);
  });

  it("priority is met by real-time lanes only", () => {
    const r = route(mini, constraints({ sla_tier: "priority" }), seedLanes);
    expect(r.work_units[0]!.lane_id).toBe("openai/gpt-4o-mini/us/realtime");
    expect(report(r, "openai/gpt-4o-mini/us/batch").rejection_reasons[0]!.message).toBe(
      "A batch lane can't meet the priority tier (1 h); only real-time lanes can.",
    );
  });

  it("a lane whose typical turnaround overruns the deadline is sla_unmet", () => {
    const lanes = [makeLane({ provider: "slow", input_per_mtok_micros: 1, observed: { p50_turnaround_s: 30 * 3600 } }), makeLane()];
    expect(codes(route(makeItems(1), constraints(), lanes), "slow/m1/us/batch")).toEqual(["sla_unmet"]);
    expect(unitLanes(route(makeItems(1), constraints({ sla_tier: "flex" }), lanes))).toEqual([["slow/m1/us/batch", 1]]);
  });

  it("only and ignore exclude providers", () => {
    const ignore = route(mini, constraints({ provider_preferences: { allow_fallbacks: true, ignore: ["openai"] } }), seedLanes);
    expect(ignore.work_units[0]!.provider).toBe("azure-openai");
    expect(codes(ignore, "openai/gpt-4o-mini/us/batch")).toEqual(["provider_excluded"]);
    const only = route(mini, constraints({ provider_preferences: { allow_fallbacks: true, only: ["azure-openai"] } }), seedLanes);
    expect(only.lanes.filter((l) => l.provider !== "azure-openai").every((l) => l.rejection_reasons[0]!.code === "provider_excluded")).toBe(
      true,
    );
  });

  it("an unhealthy lane gets no work", () => {
    const lanes = [makeLane({ provider: "sick", input_per_mtok_micros: 1, healthy: false }), makeLane()];
    const r = route(makeItems(3), constraints(), lanes);
    expect(unitLanes(r)).toEqual([["p1/m1/us/batch", 3]]);
    expect(codes(r, "sick/m1/us/batch")).toEqual(["provider_unhealthy"]);
  });

  it("context window, tools and operation", () => {
    const long = makeItems(1, { models: ["gemma-4-e4b-it", "llama-3.1-8b-instruct"], input_tokens: 40_000 });
    const r = route(long, constraints(), seedLanes);
    expect(codes(r, "autonomousc/gemma-4-e4b-it/us/realtime")).toEqual(["context_window_exceeded"]);
    expect(r.work_units[0]!.model).toBe("llama-3.1-8b-instruct");

    const tools = route(makeItems(1, { models: ["gemma-4-e4b-it"], needs_tools: true }), constraints(), seedLanes);
    expect(tools.unroutable[0]!.reasons.every((x) => x.code === "tool_support")).toBe(true);

    const search = route(
      makeItems(1, { models: ["claude-haiku-4"], hosted_tools: ["web_search"] }),
      constraints({ sla_tier: "priority" }),
      seedLanes,
    );
    expect(search.work_units[0]!.lane_id).toBe("anthropic/claude-haiku-4/us/realtime");
    expect(codes(search, "aws-bedrock/claude-haiku-4/us/realtime")).toEqual(["tool_support"]);
    expect(report(search, "aws-bedrock/claude-haiku-4/us/realtime").rejection_reasons[0]!.message).toContain("(web_search)");

    const embed = route(makeItems(1, { operation: "embeddings", models: ["gpt-4o-mini"] }), constraints(), seedLanes);
    expect(embed.unroutable[0]!.reasons[0]).toMatchObject({ code: "operation_unsupported" });
  });

  it("an unknown model is unroutable with model_not_offered", () => {
    const r = route(makeItems(2, { models: ["gpt-9"] }), constraints(), seedLanes);
    expect(r.unroutable).toEqual(
      [0, 1].map((i) => ({
        index: i,
        customer_item_id: `item-${i}`,
        reasons: [{ code: "model_not_offered", message: 'No lane offers the model "gpt-9".' }],
      })),
    );
    expect(r.lanes).toEqual([]);
    expect(explain(r)).toBe(
      `None of the 2 items can be routed under these constraints. 2 items can't be routed because no candidate lane meets every constraint (for example: no lane offers the model "gpt-9").`,
    );
  });

  it("flags a total above max_price on the selected lanes", () => {
    const r = route(makeItems(8, { models: ["gpt-4o-mini"] }), constraints({ max_price_micros: 1_000 }), seedLanes);
    expect(r.price_above_max).toBe(true);
    expect(report(r, "openai/gpt-4o-mini/us/batch").rejection_reasons).toEqual([
      { code: "price_above_max", message: "The quote's total, $0.001800, is above max_price $0.001000." },
    ]);
    expect(route(makeItems(8, { models: ["gpt-4o-mini"] }), constraints({ max_price_micros: 1_800 }), seedLanes).price_above_max).toBe(
      false,
    );
  });
});

describe("fallback ladders", () => {
  const lanes = [
    makeLane({ provider: "a" }),
    makeLane({ provider: "rescue", mode: "realtime", region: "global", rescue: true, input_per_mtok_micros: 1_200_000 }),
    makeLane({ provider: "c", input_per_mtok_micros: 3_000_000 }),
    makeLane({ provider: "b", input_per_mtok_micros: 2_000_000 }),
    makeLane({ provider: "eu", region: "eu", input_per_mtok_micros: 1_500_000 }),
    makeLane({ provider: "notools", tool_support: false, input_per_mtok_micros: 1_100_000 }),
  ];
  const items = makeItems(3, { needs_tools: true });

  it("lists lanes every item may use, by price, rescue last, never crossing a constraint", () => {
    // eu is outside the regions, notools lacks tool calls: neither may appear, however cheap.
    const r = route(items, constraints({ allowed_regions: ["us", "global"] }), lanes);
    expect(r.work_units[0]!.lane_id).toBe("a/m1/us/batch");
    expect(r.work_units[0]!.fallback_order).toEqual(["b/m1/us/batch", "c/m1/us/batch", "rescue/m1/global/realtime"]);
  });

  it("puts provider_preferences.order first, and is empty without fallbacks", () => {
    const c = constraints({ allowed_regions: ["us", "global"], provider_preferences: { allow_fallbacks: true, order: ["c"] } });
    expect(route(items, c, lanes).work_units[0]!.fallback_order).toEqual(["c/m1/us/batch", "b/m1/us/batch", "rescue/m1/global/realtime"]);
    const off = constraints({ provider_preferences: { allow_fallbacks: false } });
    expect(route(items, off, lanes).work_units[0]!.fallback_order).toEqual([]);
  });

  it("keeps only lanes that suit every item of a unit", () => {
    const mixed = [...makeItems(1, { models: ["m1"] }), ...makeItems(1, { models: ["m1", "m2"] }, 1)];
    const two = [
      makeLane(),
      makeLane({ model: "m2", input_per_mtok_micros: 2_000_000 }),
      makeLane({ provider: "b", input_per_mtok_micros: 3_000_000 }),
    ];
    const r = route(mixed, constraints(), two);
    expect(unitLanes(r)).toEqual([["p1/m1/us/batch", 2]]);
    expect(r.work_units[0]!.fallback_order).toEqual(["b/m1/us/batch"]);
  });
});

describe("explain", () => {
  it("names the main lane and the lane skipped for a constraint", () => {
    const r = route(makeItems(8, { models: ["gpt-4o-mini"] }), constraints({ allowed_regions: ["eu"] }), seedLanes);
    expect(explain(r, { providerNames })).toBe(
      "8 items go to OpenAI's batch lane for gpt-4o-mini in eu at $0.001800. " +
        "Azure OpenAI's batch lane for gpt-4o-mini in us was skipped because it runs in us, outside the allowed regions (eu).",
    );
  });

  it("summarises a split across lanes", () => {
    const lanes = [makeLane({ provider: "cheap", capacity_items_per_hour: 1, input_per_mtok_micros: 100 }), makeLane({ provider: "dear" })];
    const r = route(makeItems(30), constraints({ routing_mode: "hybrid" }), lanes);
    expect(explain(r)).toMatch(
      /^24 items go to cheap's batch lane for m1 in us at \$0\.\d{6}; 1 more lane takes the other 6 items, \$0\.\d{6} in all\./,
    );
  });
});
