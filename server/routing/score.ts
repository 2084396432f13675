import type { Lane } from "../catalog/types.js";

/**
 * The sla_aware score of a lane for n items, in [0, 1]; higher is better.
 *
 *   score           = sqrt(price_factor) × success_rate × deadline_factor
 *   price_factor    = (cheapest cost of these items on any eligible lane) / (their cost on this lane)
 *   expected_s      = p50_turnaround_s / success_rate                       — a failed attempt is retried,
 *                                                                            so 1/p attempts, each a turnaround
 *                   + (backlog_items + queued + n) / capacity_items_per_hour × 3600
 *                                                                          — the queue ahead, then these items
 *   deadline_factor = max(0, 1 − expected_s / deadline_s)
 *
 * The square root keeps price from drowning reliability: a lane at twice the price scores ×0.71, so a
 * lane that fails 1 item in 10 or would run close to the deadline loses to one a little dearer.
 */
export function slaScore(lane: Lane, n: number, queued: number, deadlineHours: number, priceFactor: number): number {
  const p = Math.min(1, Math.max(lane.observed.success_rate, 1e-6));
  const deadlineS = deadlineHours * 3600;
  const queueS = ((lane.observed.backlog_items + queued + n) / lane.capacity_items_per_hour) * 3600;
  const expectedS = lane.observed.p50_turnaround_s / p + queueS;
  const deadlineFactor = Math.max(0, 1 - expectedS / deadlineS);
  return Math.sqrt(priceFactor) * p * deadlineFactor;
}

/** cheapest / cost as a float in (0, 1]; money stays exact elsewhere, this is only a weight. */
export function priceFactor(cheapestPico: bigint, costPico: bigint): number {
  if (costPico === 0n) return 1;
  return Number(cheapestPico) / Number(costPico);
}
