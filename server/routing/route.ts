import { SLA_DEADLINE_HOURS, type Lane } from "../catalog/types.js";
import { assignSubgroup } from "./assign.js";
import { formatUsd } from "./cost.js";
import { laneChecks } from "./eligibility.js";
import { buildSubgroups } from "./groups.js";
import { RoutingItemArray } from "./packed-item.js";
import { laneReports, unroutableReasons } from "./report.js";
import type { LaneState, RouteState, Subgroup } from "./state.js";
import type {
  ItemAssignment,
  RoutingConstraints,
  RoutingDecision,
  RoutingItem,
  RoutingItems,
  RoutingResult,
  UnroutableItem,
  UnroutableReason,
  WorkUnit,
} from "./types.js";
import { buildWorkUnits } from "./work-units.js";

function laneStates(lanes: readonly Lane[], c: RoutingConstraints, deadlineHours: number): LaneState[] {
  const order = c.provider_preferences.order ?? [];
  const seen = new Set<string>();
  return lanes.map((lane, seq) => {
    if (seen.has(lane.lane_id)) throw new Error(`duplicate lane ${lane.lane_id}`);
    seen.add(lane.lane_id);
    const rank = order.indexOf(lane.provider);
    return {
      lane,
      seq,
      orderRank: rank === -1 ? order.length : rank,
      checks: laneChecks(lane, c, deadlineHours),
      considered: false,
      // Capacity of the lane within the deadline, net of work already queued on it.
      remaining: lane.capacity_items_per_hour * deadlineHours - lane.observed.backlog_items,
      assigned: [],
      assignedFrom: new Set(),
      eligibleItems: 0,
      eligibleInput: 0,
      eligibleOutput: 0,
      capacityRejected: 0,
      scoreSum: 0,
      tallies: new Map(),
    };
  });
}

function decide(items: RoutingItems, units: WorkUnit[], reports: RoutingResult["lanes"], unroutable: number): RoutingDecision {
  const largest = units.reduce<WorkUnit | undefined>(
    (best, u) =>
      !best || u.item_count > best.item_count || (u.item_count === best.item_count && u.estimated_cost_micros < best.estimated_cost_micros)
        ? u
        : best,
    undefined,
  );
  const selectedProviders = new Set(units.map((u) => u.provider));
  return {
    selected_provider: largest?.provider ?? null,
    selected_lane_id: largest?.lane_id ?? null,
    total_estimated_cost_micros: units.reduce((sum, u) => sum + u.estimated_cost_micros, 0),
    item_count: items.length,
    assigned_item_count: items.length - unroutable,
    unroutable_item_count: unroutable,
    work_unit_count: units.length,
    lanes_considered: reports.length,
    lanes_selected: units.length,
    fallback_order: largest?.fallback_order ?? [],
    rejected_providers: [...new Set(reports.map((r) => r.provider))].filter((p) => !selectedProviders.has(p)),
  };
}

/**
 * Routes items to lanes under the constraints. Pure: the caller supplies the lanes with their
 * current observed statistics and health, and turns `unroutable` or `price_above_max` into errors.
 * Token estimates must be non-negative integers (RangeError otherwise).
 */
export function route(given: RoutingItems | readonly RoutingItem[], c: RoutingConstraints, lanes: readonly Lane[]): RoutingResult {
  const items = Array.isArray(given) ? new RoutingItemArray(given) : (given as RoutingItems);
  const deadlineHours = SLA_DEADLINE_HOURS[c.sla_tier];
  const states = laneStates(lanes, c, deadlineHours);
  const byModel = new Map<string, LaneState[]>();
  for (const ls of states) {
    const list = byModel.get(ls.lane.model);
    if (list) list.push(ls);
    else byModel.set(ls.lane.model, [ls]);
  }

  const state: RouteState = { items, laneOf: new Array(items.length), unroutable: [] };
  // Subgroups claim capacity in manifest order, so earlier items keep their lane when a lane fills.
  for (const sg of buildSubgroups(items, byModel)) assignSubgroup(state, sg, c.routing_mode, deadlineHours);

  const units = buildWorkUnits(state, states, c);
  const total = units.reduce((sum, u) => sum + u.estimated_cost_micros, 0);
  const overMax = c.max_price_micros !== null && total > c.max_price_micros;
  const reports = laneReports(states, c, deadlineHours, overMax ? [formatUsd(total), formatUsd(c.max_price_micros!)] : null);

  // Items of one subgroup fail for the same reasons: they share one (read-only) reasons array.
  const reasonCache = new Map<Subgroup, UnroutableReason[]>();
  const unroutable: UnroutableItem[] = state.unroutable
    .map(({ pos, sg }) => {
      let reasons = reasonCache.get(sg);
      if (!reasons) reasonCache.set(sg, (reasons = unroutableReasons(sg, c, deadlineHours)));
      return { index: items.index(pos), customer_item_id: items.customerItemId(pos), reasons };
    })
    .sort((a, b) => a.index - b.index);
  // Built when read: a batch's plan needs only the work units, and a million assignment objects
  // are ~50 MB a create would hold for nothing.
  let assignments: ItemAssignment[] | undefined;

  return {
    routing_mode: c.routing_mode,
    sla_tier: c.sla_tier,
    deadline_hours: deadlineHours,
    get assignments(): ItemAssignment[] {
      assignments ??= Array.from({ length: items.length }, (_, pos) => ({
        index: items.index(pos),
        customer_item_id: items.customerItemId(pos),
        lane_id: state.laneOf[pos]?.lane.lane_id ?? null,
      }));
      return assignments;
    },
    lanes: reports,
    work_units: units,
    unroutable,
    decision: decide(items, units, reports, unroutable.length),
    price_above_max: overMax,
    max_price_micros: c.max_price_micros,
  };
}
