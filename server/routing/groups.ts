import { fitsTokens, itemKindChecks, type Check } from "./eligibility.js";
import { tally, type LaneState, type Subgroup } from "./state.js";
import type { ItemKind, RoutingItems } from "./types.js";

interface Group {
  models: string[];
  operation: ItemKind["operation"];
  needsTools: boolean;
  hostedTools: string[];
  positions: number[];
}

const MAX_REMEMBERED_KINDS = 256;

/**
 * Groups items with identical routing-relevant attributes, so constraints are checked per group ×
 * lane instead of per item × lane (50,000 items usually fall into a handful of groups). Items of one
 * shared kind object go to its group without building their key again.
 */
function groupItems(items: RoutingItems): Group[] {
  const groups = new Map<string, Group>();
  const byKind = new Map<ItemKind, Group>();
  for (let pos = 0; pos < items.length; pos++) {
    const it = items.kind(pos);
    let g = byKind.get(it);
    if (!g) {
      const tools = it.hosted_tools.length > 0 ? [...new Set(it.hosted_tools)].sort() : [];
      const needsTools = it.needs_tools || tools.length > 0;
      const key = `${it.operation}\0${needsTools ? 1 : 0}\0${tools.join(",")}\0${it.models.join("\u0001")}`;
      g = groups.get(key);
      if (!g)
        groups.set(key, (g = { models: [...new Set(it.models)], operation: it.operation, needsTools, hostedTools: tools, positions: [] }));
      // Shared kinds are a handful; plain item objects are each their own, not worth remembering.
      if (byKind.size < MAX_REMEMBERED_KINDS) byKind.set(it, g);
    }
    g.positions.push(pos);
  }
  return [...groups.values()];
}

/**
 * Splits one group by which lanes its items fit (context window, output cap). Items land in the same
 * bucket when they clear the same distinct limits, so every lane fits all of a bucket or none of it.
 */
function splitByFit(g: Group, items: RoutingItems, lanes: LaneState[]): number[][] {
  const ctx = [...new Set(lanes.map((l) => l.lane.context_window))].sort((a, b) => a - b);
  const out = [...new Set(lanes.map((l) => l.lane.max_output_tokens))].sort((a, b) => a - b);
  const buckets = new Map<number, number[]>();
  for (const pos of g.positions) {
    const output = items.outputTokens(pos);
    const need = items.inputTokens(pos) + output;
    let ci = 0;
    while (ci < ctx.length && ctx[ci]! < need) ci++;
    let oi = 0;
    while (oi < out.length && out[oi]! < output) oi++;
    const key = ci * (out.length + 1) + oi;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = []));
    b.push(pos);
  }
  return [...buckets.values()];
}

/** Builds the subgroups of every item, tallying each lane's constraint failures as it goes. */
export function buildSubgroups(items: RoutingItems, lanesByModel: Map<string, LaneState[]>): Subgroup[] {
  const subgroups: Subgroup[] = [];
  for (const g of groupItems(items)) {
    const n = g.positions.length;
    const unknownModels: string[] = [];
    const pass: LaneState[] = [];
    const rejections: { ls: LaneState; checks: Check[] }[] = [];
    for (const model of g.models) {
      const lanes = lanesByModel.get(model);
      if (!lanes) {
        unknownModels.push(model);
        continue;
      }
      for (const ls of lanes) {
        ls.considered = true;
        const checks = [...ls.checks, ...itemKindChecks(ls.lane, g.operation, g.needsTools, g.hostedTools)];
        if (checks.length === 0) {
          pass.push(ls);
          continue;
        }
        rejections.push({ ls, checks });
        for (const c of checks) tally(ls, c.code, n, c.details);
      }
    }
    // Ties on price or score go to the customer's preferred model, then provider order, then a
    // non-rescue lane, then catalog order.
    const modelRank = (ls: LaneState) => g.models.indexOf(ls.lane.model);
    pass.sort(
      (a, b) => modelRank(a) - modelRank(b) || a.orderRank - b.orderRank || Number(a.lane.rescue) - Number(b.lane.rescue) || a.seq - b.seq,
    );
    const buckets = pass.length > 0 ? splitByFit(g, items, pass) : [g.positions];
    for (const positions of buckets) {
      const rep = positions[0]!;
      const eligible = pass.filter((ls) => fitsTokens(ls.lane, items.inputTokens(rep), items.outputTokens(rep)));
      const misfits = pass.filter((ls) => !eligible.includes(ls));
      let inputTokens = 0;
      let outputTokens = 0;
      for (const pos of positions) {
        inputTokens += items.inputTokens(pos);
        outputTokens += items.outputTokens(pos);
      }
      for (const ls of misfits) tally(ls, "context_window_exceeded", positions.length);
      for (const ls of eligible) {
        ls.eligibleItems += positions.length;
        ls.eligibleInput += inputTokens;
        ls.eligibleOutput += outputTokens;
      }
      subgroups.push({
        models: g.models,
        unknownModels,
        positions,
        first: positions[0]!,
        inputTokens,
        outputTokens,
        eligible,
        eligibleSet: new Set(eligible),
        rejections: [...rejections, ...misfits.map((ls) => ({ ls, checks: [{ code: "context_window_exceeded" as const, details: [] }] }))],
        full: new Set(),
      });
    }
  }
  return subgroups.sort((a, b) => a.first - b.first);
}
