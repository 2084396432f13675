import { completedResult, failedResult } from "./item-results.js";
import { fromAnthropicMessage } from "./normalized-output.js";
import type { ItemError, ItemResult, WorkUnitItem } from "./types.js";

/**
 * The per-item side of Anthropic's Message Batches: which `custom_id` each item travels under, and
 * what one line of a batch's results stream means for its item.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** What Anthropic accepts as a custom_id. */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The custom_id of each item, in `items` order. Our item ids (`bat_…:idx`) become themselves with
 * ":" → "_", which reads well in the provider's console; if any of them would not fit the pattern or
 * two would collide, every item is sent under its position (`i0`, `i1`, …) instead — all or none, so
 * the two forms can never collide with each other. Derived from the items alone, so collect rebuilds
 * it from the request and the stored ref carries no per-item data.
 */
export function customIds(items: readonly Pick<WorkUnitItem, "item_id">[]): string[] {
  const direct = items.map((it) => it.item_id.replaceAll(":", "_"));
  if (direct.every((id) => CUSTOM_ID.test(id)) && new Set(direct).size === direct.length) return direct;
  return items.map((_, i) => `i${i}`);
}

/** Anthropic's error types, with the HTTP status each stands for (what an errored result would have answered). */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * An `errored` result's error → ours. The provider's own trouble (overloaded, api, timeout) and rate
 * limits are worth another attempt; a request Anthropic calls invalid will be invalid again, and so,
 * for this lane, is anything else it refuses (a model it doesn't serve, a permission).
 */
export function erroredOf(raw: unknown): { error: ItemError; retryable: boolean } {
  const inner = isObj(raw) && isObj(raw.error) ? raw.error : isObj(raw) ? raw : {};
  const type = typeof inner.type === "string" ? inner.type : "";
  const message =
    typeof inner.message === "string" && inner.message ? inner.message : `the provider refused the request (${type || "no reason given"})`;
  const status = STATUS_OF_TYPE[type];
  const error = (code: ItemError["code"]): ItemError => ({ code, message, ...(status !== undefined ? { provider_status: status } : {}) });
  switch (type) {
    case "rate_limit_error":
      return { error: error("rate_limited"), retryable: true };
    case "overloaded_error":
    case "api_error":
      return { error: error("provider_error"), retryable: true };
    case "timeout_error":
      return { error: error("timeout"), retryable: true };
    case "invalid_request_error":
      return { error: error(/prompt is too long/i.test(message) ? "context_length_exceeded" : "invalid_input"), retryable: false };
    default:
      return { error: error("provider_error"), retryable: false };
  }
}

/**
 * One results line → its custom_id and the item's result; undefined for a line we can't use (not
 * JSON, an id that isn't pending, an unknown result type, a success without a message), whose item is
 * then settled as having no result. Only `succeeded` carries usage: nothing else is billed.
 */
export function resultOf(
  text: string,
  pending: ReadonlyMap<string, WorkUnitItem>,
  model: string,
): { id: string; result: ItemResult } | undefined {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(line) || typeof line.custom_id !== "string") return undefined;
  const it = pending.get(line.custom_id);
  const r = isObj(line.result) ? line.result : undefined;
  if (!it || !r) return undefined;
  const id = line.custom_id;
  switch (r.type) {
    case "succeeded": {
      if (!isObj(r.message)) return undefined;
      return { id, result: completedResult(it, fromAnthropicMessage(r.message, model)) };
    }
    case "errored": {
      const { error, retryable } = erroredOf(r.error);
      return { id, result: failedResult(it, error, retryable) };
    }
    case "canceled":
      return {
        id,
        result: failedResult(it, { code: "cancelled", message: "The provider batch was cancelled before this item ran." }, false),
      };
    case "expired":
      // The batch ran out of its 24 hours before reaching the item: another batch may well get to it.
      return {
        id,
        result: failedResult(it, { code: "expired", message: "The provider batch expired before this item ran; it is sent again." }, true),
      };
    default:
      return undefined;
  }
}
