import type { Lane } from "../catalog/types.js";
import type { Check } from "./eligibility.js";
import type { ConstraintCode, RoutingItems } from "./types.js";

// Working state of one route() call. Internal: nothing here leaves the module except via reports.

export interface Tally {
  items: number;
  details: Set<string>;
}

export interface LaneState {
  lane: Lane;
  /** Position in the caller's lane list: the last tie-break, so catalog order decides exact ties. */
  seq: number;
  /** Rank in provider_preferences.order; unlisted providers rank after every listed one. */
  orderRank: number;
  /** Lane-level constraint failures (region, privacy, SLA…), the same for every item. */
  checks: Check[];
  considered: boolean;
  /** Items the lane can still take before the deadline. */
  remaining: number;
  assigned: number[];
  /** Subgroups with items on this lane: its fallback ladder must suit all of them. */
  assignedFrom: Set<Subgroup>;
  eligibleItems: number;
  eligibleInput: number;
  eligibleOutput: number;
  capacityRejected: number;
  scoreSum: number;
  tallies: Map<ConstraintCode, Tally>;
}

/** Items of one kind (models, operation, tools) that also fit the same set of lanes. */
export interface Subgroup {
  models: string[];
  unknownModels: string[];
  positions: number[];
  first: number;
  inputTokens: number;
  outputTokens: number;
  /** Lanes meeting every hard constraint but capacity, in tie-break order. */
  eligible: LaneState[];
  eligibleSet: Set<LaneState>;
  /** Lanes of the candidate models that fail a hard constraint, and why. */
  rejections: { ls: LaneState; checks: Check[] }[];
  /** Eligible lanes that ran out of capacity for this subgroup. */
  full: Set<LaneState>;
}

export interface RouteState {
  items: RoutingItems;
  laneOf: (LaneState | undefined)[];
  unroutable: { pos: number; sg: Subgroup }[];
}

export function tally(ls: LaneState, code: ConstraintCode, items: number, details: readonly string[] = []) {
  let t = ls.tallies.get(code);
  if (!t) ls.tallies.set(code, (t = { items: 0, details: new Set() }));
  t.items += items;
  for (const d of details) t.details.add(d);
}
