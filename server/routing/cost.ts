import type { Lane } from "../catalog/types.js";

const PICO_PER_MICRO = 1_000_000n;

/**
 * One item's cost on a lane in pico-dollars (tokens × micro-dollars per million tokens). A plain
 * number while it is exactly representable, a bigint beyond; `<` and `>` compare the two exactly.
 */
export function itemCostPico(inputTokens: number, outputTokens: number, lane: Lane): number | bigint {
  const c = inputTokens * lane.input_per_mtok_micros + outputTokens * lane.output_per_mtok_micros;
  if (Number.isSafeInteger(c)) return c;
  return BigInt(inputTokens) * BigInt(lane.input_per_mtok_micros) + BigInt(outputTokens) * BigInt(lane.output_per_mtok_micros);
}

/** Cost of many items from their token sums: the cost is linear, so Σ(in·p) = (Σin)·p. */
export function sumCostPico(inputTokens: number, outputTokens: number, lane: Lane): bigint {
  return BigInt(inputTokens) * BigInt(lane.input_per_mtok_micros) + BigInt(outputTokens) * BigInt(lane.output_per_mtok_micros);
}

/** Pico- to micro-dollars, rounding up: done once per unit or lane so rounding never compounds. */
export function picoToMicrosCeil(pico: bigint): number {
  return Number((pico + PICO_PER_MICRO - 1n) / PICO_PER_MICRO);
}

/** 123 micro-dollars → "$0.000123". */
export function formatUsd(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  return `$${whole.toLocaleString("en-US")}.${String(micros % 1_000_000).padStart(6, "0")}`;
}
