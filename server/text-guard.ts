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
// match (an escaped surrogate pair, say) is only a reason to walk — so the number test is looser than
// it could be (any 20-digit run): two plain expressions scan a 10 MB body in half the time of one
// case-insensitive alternation that must be tried at every position.
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const SUSPECT_NUMBER = /[eE][+-]?\d{3}|\d{20}/;

/**
 * Whether `value` nests deeper than MAX_NESTING: a walk of containers only, so strings (most of a
 * body's bytes) cost nothing, and it stops at MAX_NESTING, so it can't overflow the stack itself.
 */
function nestsTooDeep(value: object, depth: number): boolean {
  if (depth >= MAX_NESTING) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === "object" && nestsTooDeep(v, depth + 1)) return true;
    return false;
  }
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === "object" && nestsTooDeep(v, depth + 1)) return true;
  }
  return false;
}

/** unstorableValue for a value parsed from `json`, walking it only when the text can hold a problem. */
export function unstorableJson(json: string, parsed: unknown): Unstorable | undefined {
  // Deep nesting leaves no mark the text test can see cheaply, so it gets its own container walk:
  // without it a field the schemas pass through as-is (provider_preferences' extra keys) let a body
  // nested 5,000 deep reach JSON.stringify in insertQuote — a stack overflow answered as a 500 (fuzz
  // suite, test/fuzz/regressions.test.ts) — and one 300 deep be stored, past the documented limit.
  const deep = parsed !== null && typeof parsed === "object" && nestsTooDeep(parsed, 0);
  if (!deep && !SUSPECT_ESCAPE.test(json) && !SUSPECT_NUMBER.test(json)) return undefined;
  return unstorableValue(parsed);
}
