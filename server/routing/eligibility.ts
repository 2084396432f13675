import type { Lane, Operation, Region } from "../catalog/types.js";
import type { ConstraintCode, RoutingConstraints } from "./types.js";

/** A failed hard constraint; `details` feed the customer message (missing tools, privacy rule…). */
export interface Check {
  code: ConstraintCode;
  details: string[];
}

/**
 * `["global"]` alone allows any lane; any other list names the lane regions allowed, so a global
 * lane (region unknown) is not an eu lane, and `["us", "global"]` allows us and global lanes only.
 */
export const regionAllowed = (region: Region, allowed: readonly Region[]) =>
  allowed.every((r) => r === "global") || allowed.includes(region);

/** Privacy rules the lane fails, named the way the customer asked for them. */
export function privacyFailures(lane: Lane, c: RoutingConstraints): string[] {
  const p = lane.privacy;
  const out: string[] = [];
  if (c.privacy_tier === "zdr" && !p.zdr) out.push("privacy_tier zdr");
  if (c.privacy_tier === "no_training" && !p.no_training && !p.zdr) out.push("privacy_tier no_training");
  if (c.provider_preferences.data_collection === "deny" && p.data_collection !== "deny") out.push("data_collection deny");
  if (c.provider_preferences.zdr === true && !p.zdr) out.push("zdr");
  return out;
}

/** How `live_routes` names a lane's way of running: its provider and protocol. */
export const liveRoute = (lane: Pick<Lane, "provider" | "protocol">) => `${lane.provider}/${lane.protocol}`;

/** Constraints that depend only on the lane and the request, so they are checked once per lane. */
export function laneChecks(lane: Lane, c: RoutingConstraints, deadlineHours: number): Check[] {
  const out: Check[] = [];
  const { only, ignore } = c.provider_preferences;
  // An empty `only` list is read as "no allow-list", the way an omitted one is.
  if (only && only.length > 0 && !only.includes(lane.provider)) out.push({ code: "provider_excluded", details: ["only"] });
  else if (ignore?.includes(lane.provider)) out.push({ code: "provider_excluded", details: ["ignore"] });
  if (c.routing_mode === "public_only" && !lane.public) out.push({ code: "not_public", details: [] });
  if (!regionAllowed(lane.region, c.allowed_regions)) out.push({ code: "region_not_allowed", details: [] });
  const privacy = privacyFailures(lane, c);
  if (privacy.length > 0) out.push({ code: "privacy_tier_unmet", details: privacy });
  if (!lane.sla_tiers.includes(c.sla_tier)) out.push({ code: "sla_unmet", details: ["mode"] });
  // A lane whose typical turnaround alone overruns the deadline can't promise the tier either.
  else if (lane.observed.p50_turnaround_s > deadlineHours * 3600) out.push({ code: "sla_unmet", details: ["turnaround"] });
  if (!lane.healthy) out.push({ code: "provider_unhealthy", details: [] });
  if (c.live_routes && !c.live_routes.includes(liveRoute(lane))) out.push({ code: "provider_not_configured", details: [] });
  return out;
}

/** Constraints that depend on what kind of item it is (operation, tools), checked once per group. */
export function itemKindChecks(lane: Lane, operation: Operation, needsTools: boolean, hostedTools: readonly string[]): Check[] {
  const out: Check[] = [];
  if (!lane.operations.includes(operation)) out.push({ code: "operation_unsupported", details: [operation] });
  if ((needsTools || hostedTools.length > 0) && !lane.tool_support) {
    out.push({ code: "tool_support", details: [...hostedTools] });
  } else {
    const missing = hostedTools.filter((t) => !lane.hosted_tools.includes(t));
    if (missing.length > 0) out.push({ code: "tool_support", details: missing });
  }
  return out;
}

/** The item's prompt plus its output fit the context window, and its output the lane's output cap. */
export const fitsTokens = (lane: Lane, inputTokens: number, outputTokens: number) =>
  inputTokens + outputTokens <= lane.context_window && outputTokens <= lane.max_output_tokens;
