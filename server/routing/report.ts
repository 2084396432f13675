import { reasonMessage, modelNotOfferedMessage } from "./messages.js";
import { tally, type LaneState, type Subgroup } from "./state.js";
import {
  CONSTRAINT_CODES,
  type LaneReport,
  type Reason,
  type ReasonCode,
  type RoutingConstraints,
  type UnroutableReason,
} from "./types.js";
import { picoToMicrosCeil, sumCostPico } from "./cost.js";

/**
 * The report of every considered lane. Eligible items the lane neither took nor turned away for
 * capacity went to a lane that was cheaper (or, under sla_aware, scored higher); they are counted
 * as such, so an unselected lane always says why.
 */
export function laneReports(
  lanes: readonly LaneState[],
  c: RoutingConstraints,
  deadlineHours: number,
  overMax: [string, string] | null,
): LaneReport[] {
  const lostCode: ReasonCode = c.routing_mode === "sla_aware" ? "lower_score" : "higher_price";
  const reports: LaneReport[] = [];
  for (const ls of lanes) {
    if (!ls.considered) continue;
    const { lane } = ls;
    const selected = ls.assigned.length > 0;
    if (overMax && selected) tally(ls, "price_above_max", ls.assigned.length, overMax);
    const lost = ls.eligibleItems - ls.assigned.length - ls.capacityRejected;
    const reasons: Reason[] = [];
    const say = (code: ReasonCode, items: number, details: readonly string[]) =>
      reasons.push({ code, message: reasonMessage(code, { lane, c, deadlineHours, items, details }) });
    for (const code of CONSTRAINT_CODES) {
      const t = ls.tallies.get(code);
      if (t) say(code, t.items, code === "price_above_max" && overMax ? overMax : [...t.details]);
    }
    if (lost > 0) say(lostCode, lost, []);
    reports.push({
      lane_id: lane.lane_id,
      provider: lane.provider,
      model: lane.model,
      region: lane.region,
      mode: lane.mode,
      selected,
      item_count: ls.assigned.length,
      eligible_item_count: ls.eligibleItems,
      estimated_cost_micros: picoToMicrosCeil(sumCostPico(ls.eligibleInput, ls.eligibleOutput, lane)),
      score: ls.eligibleItems > 0 ? Math.round((ls.scoreSum / ls.eligibleItems) * 10_000) / 10_000 : 0,
      unit_price: { input_per_mtok_micros: lane.input_per_mtok_micros, output_per_mtok_micros: lane.output_per_mtok_micros },
      rejection_reasons: reasons,
    });
  }
  return reports;
}

/** Why no lane took the subgroup's items: every candidate lane with its failed constraints. */
export function unroutableReasons(sg: Subgroup, c: RoutingConstraints, deadlineHours: number): UnroutableReason[] {
  const reasons: UnroutableReason[] = [];
  if (sg.models.length === 0) reasons.push({ code: "model_not_offered", message: modelNotOfferedMessage(null) });
  for (const m of sg.unknownModels) reasons.push({ code: "model_not_offered", message: modelNotOfferedMessage(m) });
  const one = { c, deadlineHours, items: null };
  for (const { ls, checks } of sg.rejections) {
    for (const ch of checks) {
      reasons.push({
        lane_id: ls.lane.lane_id,
        code: ch.code,
        message: reasonMessage(ch.code, { ...one, lane: ls.lane, details: ch.details }),
      });
    }
  }
  for (const ls of sg.full) {
    reasons.push({
      lane_id: ls.lane.lane_id,
      code: "capacity_full",
      message: reasonMessage("capacity_full", { ...one, lane: ls.lane, details: [] }),
    });
  }
  return reasons;
}
