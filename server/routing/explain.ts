import { formatUsd } from "./cost.js";
import type { LaneReport, RoutingResult } from "./types.js";

export interface ExplainOptions {
  /** Display names by provider slug ("openai" → "OpenAI"); slugs are used when absent. */
  providerNames?: Readonly<Record<string, string>>;
}

const itemsText = (n: number) => `${n.toLocaleString("en-US")} item${n === 1 ? "" : "s"}`;
// Reason messages are whole sentences; this lets one follow "because" mid-sentence.
const clause = (message: string) =>
  message
    .replace(/^This lane/, "it")
    .replace(/^\w/, (ch) => ch.toLowerCase())
    .replace(/\.$/, "");
const price = (l: LaneReport) => l.unit_price.input_per_mtok_micros + l.unit_price.output_per_mtok_micros;

/** The most telling lane not taken: preferably one cheaper than the main lane that a constraint ruled out. */
function skippedLane(result: RoutingResult, mainLaneId: string | undefined): LaneReport | undefined {
  const main = result.lanes.find((l) => l.lane_id === mainLaneId);
  const unselected = result.lanes.filter((l) => !l.selected && l.rejection_reasons.length > 0).sort((a, b) => price(a) - price(b));
  const ruledOut = (l: LaneReport) => l.rejection_reasons.some((r) => r.code !== "higher_price" && r.code !== "lower_score");
  return (
    unselected.find((l) => ruledOut(l) && (!main || price(l) < price(main))) ??
    unselected.find((l) => l.provider !== main?.provider) ??
    unselected[0]
  );
}

/** customer_explanation: one or two plain sentences about where the items go and what was skipped. */
export function explain(result: RoutingResult, opts: ExplainOptions = {}): string {
  const name = (p: string) => opts.providerNames?.[p] ?? p;
  const units = [...result.work_units].sort((a, b) => b.item_count - a.item_count || a.estimated_cost_micros - b.estimated_cost_micros);
  const [top, ...rest] = units;
  const sentences: string[] = [];
  if (!top) {
    sentences.push(
      result.decision.item_count === 0
        ? "There are no items to route."
        : `None of the ${itemsText(result.decision.item_count)} can be routed under these constraints.`,
    );
  } else {
    const mode = top.mode === "batch" ? "batch" : "real-time";
    let s = `${itemsText(top.item_count)} ${top.item_count === 1 ? "goes" : "go"} to ${name(top.provider)}'s ${mode} lane for ${top.model} in ${top.region} at ${formatUsd(top.estimated_cost_micros)}`;
    if (rest.length > 0) {
      const others = rest.reduce((n, u) => n + u.item_count, 0);
      s += `; ${rest.length} more lane${rest.length === 1 ? " takes" : "s take"} the other ${itemsText(others)}, ${formatUsd(result.decision.total_estimated_cost_micros)} in all`;
    }
    sentences.push(`${s}.`);
  }

  const stuck = result.unroutable[0];
  if (stuck) {
    const r = stuck.reasons[0];
    const why = r ? ` (for example${r.lane_id ? ` on ${r.lane_id}` : ""}: ${clause(r.message)})` : "";
    sentences.push(`${itemsText(result.unroutable.length)} can't be routed because no candidate lane meets every constraint${why}.`);
  } else if (result.price_above_max && result.max_price_micros !== null) {
    sentences.push(`That is above your max_price of ${formatUsd(result.max_price_micros)}.`);
  } else {
    const skipped = skippedLane(result, top?.lane_id);
    const reason =
      skipped?.rejection_reasons.find((r) => r.code !== "higher_price" && r.code !== "lower_score") ?? skipped?.rejection_reasons[0];
    if (skipped && reason) {
      sentences.push(
        `${name(skipped.provider)}'s ${skipped.mode === "batch" ? "batch" : "real-time"} lane for ${skipped.model} in ${skipped.region} was skipped because ${clause(reason.message)}.`,
      );
    }
  }
  return sentences.join(" ");
}
