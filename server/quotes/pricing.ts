import { MARGIN_FLOOR_BPS } from "../catalog/fees.js";
import type { CatalogSnapshot } from "../catalog/store.js";
import { money } from "../money.js";
import { explain } from "../routing/explain.js";
import type { LaneReport, RoutingResult } from "../routing/types.js";

export interface PriceBreakdown {
  provider_subtotal: number;
  fee: number;
  discount: number;
  total: number;
  fee_rate_bps: number;
}

/** Fee on the provider subtotal, rounded up to the micro-dollar; discounts never cut below the margin floor. */
export function priceTotals(subtotal: number, feeRateBps: number, discountBps = 0, marginFloorBps = MARGIN_FLOOR_BPS): PriceBreakdown {
  const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
  const fee = Number(ceilDiv(BigInt(subtotal) * BigInt(feeRateBps), 10_000n));
  const floor = Number(ceilDiv(BigInt(subtotal) * BigInt(marginFloorBps), 10_000n));
  const discount = Math.min(Number((BigInt(subtotal) * BigInt(discountBps)) / 10_000n), Math.max(0, fee - floor));
  return { provider_subtotal: subtotal, fee, discount, total: subtotal + fee - discount, fee_rate_bps: feeRateBps };
}

/** The largest provider subtotal whose total (with fee) stays within `maxTotal`. */
export function subtotalCeiling(maxTotal: number, feeRateBps: number): number {
  // In BigInt: maxTotal may be up to 2^53, and maxTotal × 10,000 would lose digits as a double.
  let s = Number((BigInt(maxTotal) * 10_000n) / BigInt(10_000 + feeRateBps));
  while (priceTotals(s + 1, feeRateBps).total <= maxTotal) s++;
  while (s > 0 && priceTotals(s, feeRateBps).total > maxTotal) s--;
  return s;
}

export function presentLane(l: LaneReport) {
  return {
    lane_id: l.lane_id,
    provider: l.provider,
    model: l.model,
    region: l.region,
    mode: l.mode,
    selected: l.selected,
    item_count: l.item_count,
    eligible_item_count: l.eligible_item_count,
    unit_price: { input_per_mtok: money(l.unit_price.input_per_mtok_micros), output_per_mtok: money(l.unit_price.output_per_mtok_micros) },
    estimated_cost: money(l.estimated_cost_micros),
    score: Math.round(l.score * 10_000) / 10_000,
    rejection_reasons: l.rejection_reasons,
  };
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * Trust in the chosen lane: the catalog's prior reliability, moved toward what we observed as
 * observations accumulate (confidence n / (n + 200)).
 */
export function routeDecisionPreview(result: RoutingResult, snapshot: CatalogSnapshot) {
  const laneId = result.decision.selected_lane_id;
  const lane = laneId ? snapshot.laneById.get(laneId) : undefined;
  const provider = lane ? snapshot.providerBySlug.get(lane.provider) : undefined;
  const prior = lane && provider ? (provider.observed_priors[lane.mode]?.success_rate ?? lane.observed.success_rate) : 0;
  const samples = lane?.observed.samples ?? 0;
  const confidence = samples / (samples + 200);
  const observed = lane?.observed.success_rate ?? prior;
  const trust = prior * (1 - confidence) + observed * confidence;
  return {
    selected_provider: result.decision.selected_provider,
    selected_lane_id: laneId,
    quality_score: round4(trust),
    reliability_prior_score: round4(prior),
    observed_confidence_score: round4(confidence),
    observed_confidence_basis:
      samples > 0
        ? `${samples} finished items observed on this lane`
        : "no finished items observed on this lane yet: the catalog's prior applies",
    trust_score: round4(trust),
    fallback_order: result.decision.fallback_order,
    rejected_providers: result.decision.rejected_providers,
  };
}

export function customerExplanation(result: RoutingResult, snapshot: CatalogSnapshot): string {
  const providerNames = Object.fromEntries(snapshot.catalog.providers.map((p) => [p.slug, p.display_name]));
  return explain(result, { providerNames });
}
