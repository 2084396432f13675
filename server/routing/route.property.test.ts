import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SLA_DEADLINE_HOURS, type Lane, type Operation, type Region } from "../catalog/types.js";
import { ItemKinds, RoutingColumns } from "./packed-item.js";
import { route } from "./route.js";
import { makeLane } from "./test-fixtures.js";
import type { RoutingConstraints, RoutingItem, RoutingResult } from "./types.js";

// An independent, per item × lane statement of the hard constraints (capacity aside), written
// from the brief rather than from the engine, so the engine's grouping shortcuts are checked.
function violates(it: RoutingItem, lane: Lane, c: RoutingConstraints): boolean {
  const p = c.provider_preferences;
  const regions = c.allowed_regions;
  const anyRegion = regions.every((r) => r === "global");
  const needsTools = it.needs_tools || it.hosted_tools.length > 0;
  return (
    !it.models.includes(lane.model) ||
    !lane.operations.includes(it.operation) ||
    it.input_tokens + it.output_tokens > lane.context_window ||
    it.output_tokens > lane.max_output_tokens ||
    (needsTools && !lane.tool_support) ||
    it.hosted_tools.some((t) => !lane.hosted_tools.includes(t)) ||
    (!anyRegion && !regions.includes(lane.region)) ||
    (c.privacy_tier === "zdr" && !lane.privacy.zdr) ||
    (c.privacy_tier === "no_training" && !(lane.privacy.no_training || lane.privacy.zdr)) ||
    (p.data_collection === "deny" && lane.privacy.data_collection !== "deny") ||
    (p.zdr === true && !lane.privacy.zdr) ||
    (p.only !== undefined && p.only.length > 0 && !p.only.includes(lane.provider)) ||
    (p.ignore?.includes(lane.provider) ?? false) ||
    (c.routing_mode === "public_only" && !lane.public) ||
    !lane.sla_tiers.includes(c.sla_tier) ||
    lane.observed.p50_turnaround_s > SLA_DEADLINE_HOURS[c.sla_tier] * 3600 ||
    !lane.healthy
  );
}

const cost = (it: RoutingItem, l: Lane) =>
  BigInt(it.input_tokens) * BigInt(l.input_per_mtok_micros) + BigInt(it.output_tokens) * BigInt(l.output_per_mtok_micros);
const ceilMicros = (pico: bigint) => Number((pico + 999_999n) / 1_000_000n);

const PROVIDERS = ["p1", "p2", "p3", "edge", "rescue"];
const MODELS = ["m1", "m2", "m3"];
const REGIONS: Region[] = ["us", "eu", "apac", "global"];
const TOOLS = ["web_search", "calculator", "time"];
const subset = <T>(xs: T[]) => fc.subarray(xs);
// Mostly absent, so that enough items stay routable for the properties to bite.
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const mostly = <T>(usual: T, arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: arb });

const laneArb = fc
  .record({
    provider: fc.constantFrom(...PROVIDERS),
    model: fc.constantFrom(...MODELS),
    region: fc.constantFrom(...REGIONS),
    mode: fc.constantFrom("batch" as const, "realtime" as const),
    operations: mostly<Operation[]>(
      ["responses", "vision"],
      fc.subarray<Operation>(["responses", "embeddings", "vision"], { minLength: 1 }),
    ),
    context_window: mostly(128_000, fc.constantFrom(8_000, 32_000)),
    max_output_tokens: mostly(16_000, fc.constantFrom(0, 4_000)),
    input_per_mtok_micros: fc.integer({ min: 0, max: 20_000_000 }),
    output_per_mtok_micros: fc.integer({ min: 0, max: 60_000_000 }),
    tool_support: mostly(true, fc.boolean()),
    hosted_tools: subset(TOOLS),
    public: mostly(true, fc.constant(false)),
    healthy: mostly(true, fc.boolean()),
    capacity_items_per_hour: fc.constantFrom(1, 1, 2, 1_000),
    privacy: fc.record({
      zdr: fc.boolean(),
      no_training: fc.boolean(),
      data_collection: fc.constantFrom("allow" as const, "deny" as const),
    }),
    observed: fc.record({
      success_rate: fc.double({ min: 0.3, max: 1, noNaN: true }),
      p50_turnaround_s: mostly(5, fc.constantFrom(3_600, 30 * 3_600)),
      // With 1 item/h these leave a lane a few items of room, or none, under each tier.
      backlog_items: fc.constantFrom(0, 0, 22, 46, 47),
    }),
  })
  .map((s) => makeLane({ ...s, rescue: s.provider === "rescue" }));

const lanesArb = fc.uniqueArray(laneArb, { selector: (l) => l.lane_id, minLength: 1, maxLength: 16 });

// Items share a few kinds (models, operation, tools), as real manifests do, so groups are large
// enough to meet capacity limits and units mix kinds; token counts cluster around the limits.
const kindArb = fc.record({
  operation: mostly("responses" as const, fc.constantFrom("embeddings" as const, "vision" as const)),
  models: fc
    .tuple(fc.shuffledSubarray(MODELS, { minLength: 1 }), fc.integer({ min: 0, max: 9 }))
    .map(([ms, n]) => (n === 0 ? [...ms, "unknown"] : n === 1 ? [] : ms)),
  needs_tools: fc.boolean(),
  hosted_tools: mostly([], subset(TOOLS)),
});
const nearLimit = (limits: number[]) =>
  fc.tuple(fc.constantFrom(...limits), fc.integer({ min: -300, max: 300 })).map(([l, d]) => Math.max(0, l + d));
const itemsArb = fc
  .tuple(
    fc.array(kindArb, { minLength: 1, maxLength: 4 }),
    fc.array(
      fc.record({
        kind: fc.nat(),
        input_tokens: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
          { weight: 1, arbitrary: nearLimit([8_000, 32_000, 128_000]) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 140_000 }) },
        ),
        output_tokens: fc.oneof(
          { weight: 3, arbitrary: fc.integer({ min: 0, max: 1_000 }) },
          { weight: 1, arbitrary: nearLimit([4_000, 16_000]) },
        ),
      }),
      { minLength: 1, maxLength: 40 },
    ),
  )
  .map(([kinds, xs]) =>
    xs.map(
      ({ kind, ...tokens }, i): RoutingItem => ({
        ...kinds[kind % kinds.length]!,
        ...tokens,
        index: i * 3 + 1,
        customer_item_id: `c${i}`,
      }),
    ),
  );

const constraintsArb: fc.Arbitrary<RoutingConstraints> = fc.record({
  routing_mode: fc.constantFrom("cheapest" as const, "sla_aware" as const, "hybrid" as const, "public_only" as const),
  sla_tier: mostly("standard" as const, fc.constantFrom("flex" as const, "priority" as const)),
  privacy_tier: mostly("standard" as const, fc.constantFrom("no_training" as const, "zdr" as const)),
  allowed_regions: mostly<Region[]>(["global"], fc.subarray(REGIONS, { minLength: 1 })),
  provider_preferences: fc.record(
    {
      only: rarely(subset(PROVIDERS)),
      ignore: rarely(subset(PROVIDERS)),
      order: rarely(fc.shuffledSubarray(PROVIDERS)),
      allow_fallbacks: mostly(true, fc.constant(false)),
      data_collection: rarely(fc.constantFrom("allow" as const, "deny" as const)),
      zdr: rarely(fc.boolean()),
    },
    { requiredKeys: ["allow_fallbacks"] },
  ),
  max_price_micros: fc.option(fc.integer({ min: 0, max: 5_000_000 }), { nil: null }),
});

const scenario = fc.tuple(itemsArb, constraintsArb, lanesArb);
const RUNS = { numRuns: 800 };

function check(fn: (items: RoutingItem[], c: RoutingConstraints, lanes: Lane[], r: RoutingResult) => void) {
  fc.assert(
    fc.property(scenario, ([items, c, lanes]) => fn(items, c, lanes, route(items, c, lanes))),
    RUNS,
  );
}

describe("route (properties)", () => {
  it("never assigns an item to a lane that violates a hard constraint, or past a lane capacity", () => {
    check((items, c, lanes, r) => {
      const byId = new Map(lanes.map((l) => [l.lane_id, l]));
      r.assignments.forEach((a, pos) => {
        if (a.lane_id !== null) expect(violates(items[pos]!, byId.get(a.lane_id)!, c)).toBe(false);
      });
      const h = SLA_DEADLINE_HOURS[c.sla_tier];
      for (const u of r.work_units) {
        const l = byId.get(u.lane_id)!;
        expect(u.item_count).toBeLessThanOrEqual(l.capacity_items_per_hour * h - l.observed.backlog_items);
      }
    });
  });

  it("assigns every item exactly once or lists it as unroutable with reasons", () => {
    check((items, _c, _lanes, r) => {
      expect(r.assignments.map((a) => a.index)).toEqual(items.map((i) => i.index));
      const inUnits = r.work_units.flatMap((u) => u.item_indexes.map((i) => [i, u.lane_id] as const));
      const assigned = r.assignments.filter((a) => a.lane_id !== null);
      expect(new Map(inUnits)).toEqual(new Map(assigned.map((a) => [a.index, a.lane_id!])));
      expect(inUnits).toHaveLength(assigned.length);
      const unroutable = r.assignments.filter((a) => a.lane_id === null).map((a) => a.index);
      expect(r.unroutable.map((u) => u.index)).toEqual(unroutable);
      for (const u of r.unroutable) expect(u.reasons.length).toBeGreaterThan(0);
      expect(r.decision.assigned_item_count + r.decision.unroutable_item_count).toBe(items.length);
    });
  });

  it("under cheapest-style modes, no eligible lane with room is cheaper for any item", () => {
    check((items, c, lanes, r) => {
      if (c.routing_mode === "sla_aware") return;
      const byId = new Map(lanes.map((l) => [l.lane_id, l]));
      const full = new Set(r.lanes.filter((l) => l.rejection_reasons.some((x) => x.code === "capacity_full")).map((l) => l.lane_id));
      r.assignments.forEach((a, pos) => {
        const it = items[pos]!;
        const mine = a.lane_id === null ? null : cost(it, byId.get(a.lane_id)!);
        for (const l of lanes) {
          if (l.lane_id === a.lane_id || violates(it, l, c) || full.has(l.lane_id)) continue;
          // An unroutable item must have had no eligible lane with room at all.
          expect(mine).not.toBeNull();
          expect(cost(it, l) >= mine!).toBe(true);
        }
      });
    });
  });

  it("reports every considered lane, and every lane not selected says why", () => {
    check((items, _c, lanes, r) => {
      const models = new Set(items.flatMap((i) => i.models));
      expect(r.lanes.map((l) => l.lane_id)).toEqual(lanes.filter((l) => models.has(l.model)).map((l) => l.lane_id));
      for (const l of r.lanes) {
        expect(l.selected).toBe(l.item_count > 0);
        if (!l.selected) expect(l.rejection_reasons.length).toBeGreaterThan(0);
        for (const reason of l.rejection_reasons) expect(reason.message).toMatch(/^[A-Z0-9$a-z].*\.$/);
      }
    });
  });

  it("builds fallback ladders only from lanes every item of the unit may use", () => {
    check((items, c, lanes, r) => {
      const byId = new Map(lanes.map((l) => [l.lane_id, l]));
      const byIndex = new Map(items.map((i) => [i.index, i]));
      for (const u of r.work_units) {
        if (!c.provider_preferences.allow_fallbacks) expect(u.fallback_order).toEqual([]);
        expect(u.fallback_order).not.toContain(u.lane_id);
        const rungs = u.fallback_order.map((id) => byId.get(id)!);
        for (const rung of rungs) for (const i of u.item_indexes) expect(violates(byIndex.get(i)!, rung, c)).toBe(false);
        const firstRescue = rungs.findIndex((l) => l.rescue);
        if (firstRescue >= 0) expect(rungs.slice(firstRescue).every((l) => l.rescue)).toBe(true);
      }
    });
  });

  it("keeps money in exact integers, each unit rounded up once", () => {
    check((items, c, lanes, r) => {
      const byId = new Map(lanes.map((l) => [l.lane_id, l]));
      const byIndex = new Map(items.map((i) => [i.index, i]));
      for (const u of r.work_units) {
        const pico = u.item_indexes.reduce((s, i) => s + cost(byIndex.get(i)!, byId.get(u.lane_id)!), 0n);
        expect(u.estimated_cost_micros).toBe(ceilMicros(pico));
      }
      for (const l of r.lanes) expect(Number.isSafeInteger(l.estimated_cost_micros) && l.estimated_cost_micros >= 0).toBe(true);
      const total = r.work_units.reduce((s, u) => s + u.estimated_cost_micros, 0);
      expect(r.decision.total_estimated_cost_micros).toBe(total);
      expect(r.price_above_max).toBe(c.max_price_micros !== null && total > c.max_price_micros);
    });
  });

  it("routes a manifest's columns (kinds shared, as the batch path builds them) exactly as the same items one object each", () => {
    check((items, c, lanes, r) => {
      const kinds = new ItemKinds();
      const shared = new Map<string, string[]>(); // the validator shares each distinct models list
      const columns = new RoutingColumns(1);
      for (const it of items) {
        const key = it.models.join(",");
        if (!shared.has(key)) shared.set(key, it.models);
        const kind = kinds.of(it.operation, shared.get(key)!, it.needs_tools, it.hosted_tools);
        columns.push(it.index, it.customer_item_id, kind, it.input_tokens, it.output_tokens);
      }
      const fromColumns = route(columns, c, lanes);
      expect(fromColumns.assignments).toEqual(r.assignments);
      expect(fromColumns.work_units).toEqual(r.work_units);
      expect(fromColumns.unroutable).toEqual(r.unroutable);
      expect(fromColumns.lanes).toEqual(r.lanes);
      expect(fromColumns.decision).toEqual(r.decision);
    });
  });
});
