import { picoToMicrosCeil, sumCostPico } from "./cost.js";
import type { LaneState, RouteState } from "./state.js";
import type { RoutingConstraints, WorkUnit } from "./types.js";

/**
 * Lanes every item of the unit is eligible for under every hard constraint (the intersection of
 * its subgroups' eligible lanes, so a fallback never crosses privacy, region, tool, operation,
 * context or SLA). Capacity is left out: it is re-checked when a fallback is actually taken.
 * Order: rescue lanes last; providers of provider_preferences.order first, in that order; then the
 * unit's cost on the lane; then catalog order.
 */
function fallbackLadder(ls: LaneState, c: RoutingConstraints, inputTokens: number, outputTokens: number): string[] {
  if (!c.provider_preferences.allow_fallbacks) return [];
  const sets = [...ls.assignedFrom].map((sg) => sg.eligibleSet).sort((a, b) => a.size - b.size);
  const [smallest, ...rest] = sets;
  if (!smallest) return [];
  const rungs = [...smallest].filter((x) => x !== ls && rest.every((s) => s.has(x)));
  const cost = new Map(rungs.map((x) => [x, sumCostPico(inputTokens, outputTokens, x.lane)]));
  rungs.sort(
    (a, b) =>
      Number(a.lane.rescue) - Number(b.lane.rescue) ||
      a.orderRank - b.orderRank ||
      (cost.get(a)! < cost.get(b)! ? -1 : cost.get(a)! > cost.get(b)! ? 1 : 0) ||
      a.seq - b.seq,
  );
  return rungs.map((x) => x.lane.lane_id);
}

/** One work unit per selected lane, with its items, exact cost (rounded up once) and ladder. */
export function buildWorkUnits(state: RouteState, lanes: readonly LaneState[], c: RoutingConstraints): WorkUnit[] {
  const units: WorkUnit[] = [];
  for (const ls of lanes) {
    if (ls.assigned.length === 0) continue;
    let inputTokens = 0;
    let outputTokens = 0;
    const indexes: number[] = [];
    for (const pos of ls.assigned) {
      inputTokens += state.items.inputTokens(pos);
      outputTokens += state.items.outputTokens(pos);
      indexes.push(state.items.index(pos));
    }
    const { lane } = ls;
    units.push({
      lane_id: lane.lane_id,
      provider: lane.provider,
      model: lane.model,
      region: lane.region,
      mode: lane.mode,
      item_indexes: indexes.sort((a, b) => a - b),
      item_count: indexes.length,
      estimated_cost_micros: picoToMicrosCeil(sumCostPico(inputTokens, outputTokens, lane)),
      fallback_order: fallbackLadder(ls, c, inputTokens, outputTokens),
    });
  }
  return units;
}
