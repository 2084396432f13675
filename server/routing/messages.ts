import type { Lane } from "../catalog/types.js";
import type { ReasonCode, RoutingConstraints } from "./types.js";

const num = (n: number) => n.toLocaleString("en-US");
const list = (xs: readonly string[]) => xs.join(", ");

const PRIVACY_RULE: Record<string, string> = {
  "privacy_tier zdr": "the zdr privacy tier needs a zero-data-retention lane",
  "privacy_tier no_training": "the no_training privacy tier needs a provider that does not train on or keep your data",
  "data_collection deny": "provider_preferences.data_collection is deny and this provider may keep data",
  zdr: "provider_preferences.zdr asks for a zero-data-retention lane",
};

export interface MessageContext {
  lane: Lane;
  c: RoutingConstraints;
  deadlineHours: number;
  /** How many items the reason covers; null when it is written to one item. */
  items: number | null;
  details: readonly string[];
}

/** A plain sentence a customer understands, for one reason on one lane. */
export function reasonMessage(code: ReasonCode, m: MessageContext): string {
  const { lane, c, deadlineHours: h, items: n, details } = m;
  const who = n === null ? "This item" : n === 1 ? "1 item" : `${num(n)} items`;
  const s = (one: string, many: string) => (n === null || n === 1 ? one : many);
  switch (code) {
    case "capacity_full": {
      const cap = Math.max(0, lane.capacity_items_per_hour * h - lane.observed.backlog_items);
      return `This lane has room for about ${num(cap)} items within the ${c.sla_tier} deadline of ${h} h, counting work already queued, so ${who.toLowerCase()} did not fit.`;
    }
    case "context_window_exceeded":
      return `${who} ${s("needs", "need")} more than this lane's ${num(lane.context_window)}-token context window or ${num(lane.max_output_tokens)}-token output limit.`;
    case "tool_support":
      return lane.tool_support && details.length > 0
        ? `${who} ${s("uses", "use")} hosted tools this lane doesn't offer (${list(details)}).`
        : `${who} ${s("uses", "use")} tools, and ${lane.model} can't call tools on this lane.`;
    case "operation_unsupported":
      return `${who} ${s("asks", "ask")} for ${list(details)}, which ${lane.model} doesn't do.`;
    case "region_not_allowed":
      return `This lane runs in ${lane.region}, outside the allowed regions (${list(c.allowed_regions)}).`;
    case "privacy_tier_unmet":
      return `This lane doesn't meet the requested privacy: ${list(details.map((d) => PRIVACY_RULE[d] ?? d))}.`;
    case "provider_excluded":
      return details.includes("only")
        ? `${lane.provider} is not in provider_preferences.only.`
        : `${lane.provider} is excluded by provider_preferences.ignore.`;
    case "not_public":
      return `${lane.provider} is marketplace supply, not a public provider, and the routing mode is public_only.`;
    case "sla_unmet":
      return details.includes("mode")
        ? `A ${lane.mode} lane can't meet the ${c.sla_tier} tier (${h} h); only real-time lanes can.`
        : `This lane's typical turnaround (${Math.round(lane.observed.p50_turnaround_s / 360) / 10} h) is longer than the ${c.sla_tier} deadline of ${h} h.`;
    case "provider_unhealthy":
      return `This lane is unhealthy right now, so no new work is sent to it.`;
    case "provider_not_configured":
      return `${lane.provider} is not configured on this BatchRouter (no credentials for its ${lane.protocol} API), so live work can't run there; test keys run it on the simulator.`;
    case "price_above_max":
      return `The quote's total, ${details[0]}, is above max_price ${details[1]}.`;
    case "model_not_offered":
      return `No lane offers the model ${lane.model}.`;
    case "higher_price":
      return `${who} could run here, but another lane is cheaper for ${s("it", "them")}.`;
    case "lower_score":
      return `${who} could run here, but another lane scored higher on price, reliability and deadline headroom.`;
  }
}

/** The reason for a model no lane offers (there is no lane to describe). */
export const modelNotOfferedMessage = (model: string | null) =>
  model === null ? "The item names no model." : `No lane offers the model "${model}".`;
