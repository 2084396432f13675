/**
 * BatchRouter's fee schedule, in basis points of the provider subtotal (spec/catalog.md, "Fees").
 * Integers so that fee arithmetic on micro-dollars stays exact; the quote engine and GET /v1/pricing
 * both read these, so what we publish is what we charge.
 */
export const STANDARD_FEE_BPS = 590;
/** Workflow runs (packaged jobs with a preset, an artifact contract and a success SLA). */
export const WORKFLOW_FEE_BPS = 1180;
/** The least margin a quote may keep after any customer discount. */
export const MARGIN_FLOOR_BPS = 590;

const BPS = 10_000;

/**
 * Basis points as a decimal fraction string: formatRate(590) → "0.0590", formatRate(5000, 2) → "0.50".
 * Never rounds: trailing zeros are trimmed only down to `minDecimals`.
 */
export function formatRate(bps: number, minDecimals = 4): string {
  if (!Number.isInteger(bps) || bps < 0) throw new RangeError(`not a whole, non-negative basis-point figure: ${bps}`);
  let frac = String(bps % BPS).padStart(4, "0");
  while (frac.length > minDecimals && frac.endsWith("0")) frac = frac.slice(0, -1);
  return `${Math.floor(bps / BPS)}.${frac}`;
}
