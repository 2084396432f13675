import type { LaneMode, Operation, PrivacyTier, ProviderPreferences, Region, RoutingMode, SlaTier } from "../catalog/types.js";

export type { ProviderPreferences };

/** One manifest item as the router sees it: tokens are already estimated by the caller. */
export interface RoutingItem {
  /** The item's position in the manifest; work units and unroutable entries refer to it. */
  index: number;
  customer_item_id: string;
  operation: Operation;
  /** Candidate model slugs in preference order (item.model then model_options, deduped). */
  models: string[];
  input_tokens: number;
  output_tokens: number;
  needs_tools: boolean;
  hosted_tools: string[];
}

/** What the router groups items by: the items of a manifest share a handful of these. */
export type ItemKind = Pick<RoutingItem, "operation" | "models" | "needs_tools" | "hosted_tools">;

/**
 * The items to route, by position (0..length-1): columns for a manifest (packed-item.ts), or a
 * view of RoutingItem objects. `index` is the item's manifest position, which work units name.
 */
export interface RoutingItems {
  readonly length: number;
  index(pos: number): number;
  customerItemId(pos: number): string;
  inputTokens(pos: number): number;
  outputTokens(pos: number): number;
  kind(pos: number): ItemKind;
}

export interface RoutingConstraints {
  routing_mode: RoutingMode;
  sla_tier: SlaTier;
  privacy_tier: PrivacyTier;
  allowed_regions: Region[];
  provider_preferences: ProviderPreferences;
  /** Ceiling for the whole quote in micro-dollars; null for none. */
  max_price_micros: number | null;
  /**
   * For live keys: the `provider/protocol` pairs the operator can run for real (credentials and an
   * adapter); any other lane is `provider_not_configured`. Null or absent (test keys): every lane,
   * since test work runs on the simulator.
   */
  live_routes?: readonly string[] | null;
}

/** Hard constraints: a lane carrying one of these for an item may never serve it. */
export const CONSTRAINT_CODES = [
  "model_not_offered",
  "operation_unsupported",
  "context_window_exceeded",
  "tool_support",
  "region_not_allowed",
  "privacy_tier_unmet",
  "provider_excluded",
  "not_public",
  "sla_unmet",
  "provider_unhealthy",
  "capacity_full",
  "price_above_max",
  "provider_not_configured",
] as const;
export type ConstraintCode = (typeof CONSTRAINT_CODES)[number];
/** Codes of an eligible lane that simply lost: to a cheaper one, or (sla_aware) to a better score. */
export type PreferenceCode = "higher_price" | "lower_score";
export type ReasonCode = ConstraintCode | PreferenceCode;

export interface Reason {
  code: ReasonCode;
  message: string;
}

/** Every lane of every candidate model of any item, selected or not. */
export interface LaneReport {
  lane_id: string;
  provider: string;
  model: string;
  region: Region;
  mode: LaneMode;
  selected: boolean;
  /** Items assigned to the lane. */
  item_count: number;
  /** Items that meet every hard constraint on the lane except its remaining capacity. */
  eligible_item_count: number;
  /** What the eligible items would cost on this lane, selected or not, so lanes can be compared. */
  estimated_cost_micros: number;
  /** The sla_aware score (see score.ts), averaged over eligible items; 0 when no item is eligible. */
  score: number;
  unit_price: { input_per_mtok_micros: number; output_per_mtok_micros: number };
  rejection_reasons: Reason[];
}

export interface WorkUnit {
  lane_id: string;
  provider: string;
  model: string;
  region: Region;
  mode: LaneMode;
  item_indexes: number[];
  item_count: number;
  estimated_cost_micros: number;
  /** Lanes every item of the unit may move to under every hard constraint, best first; rescue last. */
  fallback_order: string[];
}

export interface UnroutableReason {
  lane_id?: string;
  code: ConstraintCode;
  message: string;
}
export interface UnroutableItem {
  index: number;
  customer_item_id: string;
  reasons: UnroutableReason[];
}

export interface ItemAssignment {
  index: number;
  customer_item_id: string;
  lane_id: string | null;
}

export interface RoutingDecision {
  /** Provider of the largest work unit. */
  selected_provider: string | null;
  selected_lane_id: string | null;
  total_estimated_cost_micros: number;
  item_count: number;
  assigned_item_count: number;
  unroutable_item_count: number;
  work_unit_count: number;
  lanes_considered: number;
  lanes_selected: number;
  fallback_order: string[];
  /** Providers with a considered lane and no selected one. */
  rejected_providers: string[];
}

export interface RoutingResult {
  routing_mode: RoutingMode;
  sla_tier: SlaTier;
  deadline_hours: number;
  /** One entry per input item, in input order. */
  assignments: ItemAssignment[];
  lanes: LaneReport[];
  work_units: WorkUnit[];
  unroutable: UnroutableItem[];
  decision: RoutingDecision;
  /** True when the selected total exceeds max_price_micros; the caller turns it into an error. */
  price_above_max: boolean;
  max_price_micros: number | null;
}
