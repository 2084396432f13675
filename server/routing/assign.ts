import type { RoutingMode } from "../catalog/types.js";
import { itemCostPico, sumCostPico } from "./cost.js";
import { priceFactor, slaScore } from "./score.js";
import { tally, type LaneState, type RouteState, type Subgroup } from "./state.js";

function place(state: RouteState, sg: Subgroup, ls: LaneState, positions: readonly number[]) {
  for (const pos of positions) {
    state.laneOf[pos] = ls;
    ls.assigned.push(pos);
  }
  ls.remaining -= positions.length;
  ls.assignedFrom.add(sg);
}

function markFull(sg: Subgroup, ls: LaneState, items: number) {
  sg.full.add(ls);
  ls.capacityRejected += items;
  tally(ls, "capacity_full", items);
}

/** Scores every eligible lane of the subgroup (recorded on the lane report in every mode). */
function scoreLanes(sg: Subgroup, deadlineHours: number): Map<LaneState, { cost: bigint; score: number }> {
  const costs = sg.eligible.map((ls) => sumCostPico(sg.inputTokens, sg.outputTokens, ls.lane));
  const cheapest = costs.reduce((a, b) => (b < a ? b : a), costs[0] ?? 0n);
  const n = sg.positions.length;
  const out = new Map<LaneState, { cost: bigint; score: number }>();
  sg.eligible.forEach((ls, i) => {
    const score = slaScore(ls.lane, n, ls.assigned.length, deadlineHours, priceFactor(cheapest, costs[i]!));
    ls.scoreSum += score * n;
    out.set(ls, { cost: costs[i]!, score });
  });
  return out;
}

/**
 * cheapest / public_only / hybrid: each item takes its own cheapest eligible lane (items of one
 * subgroup can differ when their input/output mix differs). A lane without room for all the items
 * that chose it is full for the subgroup (capacity_full) and they choose again — except in hybrid,
 * which first fills the lane to the brim and only moves the rest on.
 */
function assignByPrice(state: RouteState, sg: Subgroup, split: boolean) {
  let pending = sg.positions;
  let open = sg.eligible;
  while (pending.length > 0) {
    const inPrice = open.map((ls) => ls.lane.input_per_mtok_micros);
    const outPrice = open.map((ls) => ls.lane.output_per_mtok_micros);
    const buckets: number[][] = open.map(() => []);
    for (const pos of pending) {
      const best = cheapestOpen(state.items.inputTokens(pos), state.items.outputTokens(pos), open, inPrice, outPrice);
      if (best < 0) state.unroutable.push({ pos, sg });
      else buckets[best]!.push(pos);
    }
    const spilled: number[] = [];
    open.forEach((ls, k) => {
      const positions = buckets[k]!;
      if (positions.length === 0) return;
      if (ls.remaining >= positions.length) return place(state, sg, ls, positions);
      const take = split ? Math.max(0, ls.remaining) : 0;
      if (take > 0) place(state, sg, ls, positions.slice(0, take));
      markFull(sg, ls, positions.length - take);
      spilled.push(...positions.slice(take));
    });
    pending = spilled.sort((a, b) => a - b);
    open = open.filter((ls) => !sg.full.has(ls));
  }
}

/**
 * Index of the item's cheapest lane in `open` (which is in tie-break order, so only a strictly lower
 * price displaces the incumbent), or -1. Float arithmetic is exact while every cost is a safe
 * integer — the usual case, and the hot loop of a 50,000-item quote; otherwise costs are recomputed
 * exactly.
 */
function cheapestOpen(inputTokens: number, outputTokens: number, open: LaneState[], inPrice: number[], outPrice: number[]): number {
  let best = -1;
  let bestCost = Infinity;
  let exact = true;
  for (let k = 0; k < open.length; k++) {
    const cost = inputTokens * inPrice[k]! + outputTokens * outPrice[k]!;
    if (cost > Number.MAX_SAFE_INTEGER) exact = false;
    if (cost < bestCost) {
      best = k;
      bestCost = cost;
    }
  }
  if (exact) return best;
  let bestExact: number | bigint = 0;
  for (let k = 0; k < open.length; k++) {
    const cost = itemCostPico(inputTokens, outputTokens, open[k]!.lane);
    if (k === 0 || cost < bestExact) {
      best = k;
      bestExact = cost;
    }
  }
  return best;
}

/** sla_aware: the whole subgroup goes to its best-scoring lane with room for all of it. */
function assignByScore(state: RouteState, sg: Subgroup, scored: Map<LaneState, { cost: bigint; score: number }>) {
  const n = sg.positions.length;
  const ranked = [...sg.eligible].sort((a, b) => {
    const x = scored.get(a)!;
    const y = scored.get(b)!;
    if (x.score !== y.score) return y.score - x.score;
    if (x.cost !== y.cost) return x.cost < y.cost ? -1 : 1;
    return 0; // stable sort keeps the tie-break order of sg.eligible
  });
  for (const ls of ranked) {
    if (ls.remaining >= n) return place(state, sg, ls, sg.positions);
    markFull(sg, ls, n);
  }
  for (const pos of sg.positions) state.unroutable.push({ pos, sg });
}

/** Places one subgroup's items according to the routing mode. */
export function assignSubgroup(state: RouteState, sg: Subgroup, mode: RoutingMode, deadlineHours: number) {
  const scored = scoreLanes(sg, deadlineHours);
  if (mode === "sla_aware") assignByScore(state, sg, scored);
  else assignByPrice(state, sg, mode === "hybrid");
}
