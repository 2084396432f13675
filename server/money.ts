/** Money is an integer count of micro-dollars inside the system, a 6-place decimal string outside. */
export type Micros = number;

export interface Money {
  amount: string;
  currency: "usd";
}

const MICROS_PER_USD = 1_000_000;

/** Parses "12", "0.5" or "0.000001" exactly into micro-dollars; rejects more than 6 places. */
export function parseUsd(value: string): Micros {
  const m = /^(-)?(\d+)(?:\.(\d{1,6}))?$/.exec(value.trim());
  if (!m) throw new Error(`not a decimal USD amount with at most 6 places: ${value}`);
  const whole = Number(m[2]);
  const frac = Number((m[3] ?? "").padEnd(6, "0"));
  const micros = whole * MICROS_PER_USD + frac;
  if (!Number.isSafeInteger(micros)) throw new Error(`amount out of range: ${value}`);
  return m[1] ? -micros : micros;
}

/** parseUsd, or undefined for text that isn't an amount or is past 2^53 micro-dollars. */
export function tryParseUsd(value: string): Micros | undefined {
  try {
    return parseUsd(value);
  } catch {
    return undefined;
  }
}

/** Formats micro-dollars as a decimal string with exactly 6 places. */
export function formatUsd(micros: Micros | bigint): string {
  const v = BigInt(micros);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, "0");
  return `${neg ? "-" : ""}${whole}.${frac}`;
}

export function money(micros: Micros | bigint): Money {
  return { amount: formatUsd(micros), currency: "usd" };
}
