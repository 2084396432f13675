import type { ParseResult, PreflightError } from "./manifest-parser.js";

/** Checks the optional `x-batchrouter-item-count` and `x-content-sha256` headers against a parse. */
export function checkHeaders(result: ParseResult, headers: { itemCount?: string; sha256?: string }): PreflightError[] {
  const out: PreflightError[] = [];
  // An aborted parse has partial counts; its abort error already says what went wrong.
  const complete = result.aborted === undefined;
  if (headers.itemCount !== undefined) {
    const v = headers.itemCount.trim();
    if (!/^\d{1,15}$/.test(v)) {
      out.push({ line: 0, code: "invalid_header", message: `x-batchrouter-item-count must be a whole number of items, got "${clip(v)}"` });
    } else if (complete && Number(v) !== result.item_count) {
      const message = `x-batchrouter-item-count says ${Number(v)} items but the manifest has ${result.item_count} (non-blank lines)`;
      out.push({ line: 0, code: "item_count_mismatch", message });
    }
  }
  if (headers.sha256 !== undefined) {
    const v = headers.sha256.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(v)) {
      out.push({
        line: 0,
        code: "invalid_header",
        message: `x-content-sha256 must be the 64 hex digits of the body's SHA-256, got "${clip(v)}"`,
      });
    } else if (complete && v !== result.sha256) {
      out.push({ line: 0, code: "sha256_mismatch", message: `x-content-sha256 is ${v} but the received bytes hash to ${result.sha256}` });
    }
  }
  return out;
}

const clip = (v: string): string => (v.length > 80 ? `${v.slice(0, 80)}…` : v);
