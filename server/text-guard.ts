/**
 * What PostgreSQL (and our contract) refuses in any string or number a client sends: NUL
 * characters and unpaired UTF-16 surrogates (valid in JSON text as \u escapes and in JS strings, but
 * not in text or jsonb columns), numbers that overflowed to ±Infinity (`1e400` parses as Infinity
 * and would be stored as null), and nesting deep enough to exhaust a recursive walk. One guard at
 * the edges — HTTP params, query and bodies; MCP tool arguments; manifest lines — so no field ever
 * reaches the database with one of them.
 */

/** Deeper than this, a value is refused: the walks here and PostgreSQL's jsonb parser recurse. */
export const MAX_NESTING = 256;

export interface Unstorable {
  /** Where, relative to the value walked (keys and array indexes). */
  path: (string | number)[];
  message: string;
}

// String.prototype.isWellFormed is Node 20+, not yet in this project's lib typings.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why a string can't be taken, or undefined. */
export function badString(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character (\\u0000), which can't be stored; remove it";
  if (!isWellFormed(s)) return "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode";
  return undefined;
}

/** The first key, string or number in `value` that can't be taken, with its path and why. */
export function unstorableValue(value: unknown): Unstorable | undefined {
  // The path is built on the way back out, so the walk over a valid value allocates nothing.
  const path: (string | number)[] = [];
  const bad = findBad(value, path, 0);
  return bad === undefined ? undefined : { path: path.reverse(), message: bad };
}

function findBad(value: unknown, path: (string | number)[], depth: number): string | undefined {
  if (typeof value === "string") return badString(value);
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : "is a number too large to represent (it overflows to infinity)";
  if (value === null || typeof value !== "object") return undefined;
  if (depth >= MAX_NESTING) return `is nested more than ${MAX_NESTING} levels deep`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBad(value[i], path, depth + 1);
      if (bad) return (path.push(i), bad);
    }
  } else {
    for (const k in value) {
      const bad = badString(k) ?? findBad((value as Record<string, unknown>)[k], path, depth + 1);
      if (bad) return (path.push(k), bad);
    }
  }
  return undefined;
}

// In JSON text, a NUL or a lone surrogate can only be a \u escape (a raw NUL is not valid JSON and
// UTF-8 can't encode a surrogate), and an overflowing number needs an exponent of 3+ digits, 309+
// digits, or a long mantissa with any exponent (250 digits then e99). A text without any of these
// holds nothing the walk could find, so this test on the text spares walking almost every body; a
// match (an escaped surrogate pair, say) is only a reason to walk.
const SUSPECT_TEXT = /\\u(?:0000|d[89a-f])|[eE][+-]?\d{3}|\d{20}[\d.]*[eE]|\d{309}/i;

/** unstorableValue for a value parsed from `json`, walking it only when the text can hold a problem. */
export function unstorableJson(json: string, parsed: unknown): Unstorable | undefined {
  if (!SUSPECT_TEXT.test(json)) return undefined;
  return unstorableValue(parsed);
}
