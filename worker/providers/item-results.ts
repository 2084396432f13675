import type { ItemError, ItemResult, WorkUnitItem } from "./types.js";

/** A completed item with the provider's output and usage (what the adapters yield on success). */
export function completedResult(
  it: WorkUnitItem,
  answer: { output: NonNullable<ItemResult["output"]>; usage: ItemResult["usage"] },
  latencyMs?: number,
): ItemResult {
  return {
    item_id: it.item_id,
    customer_item_id: it.customer_item_id,
    status: "completed",
    output: answer.output,
    error: null,
    retryable: false,
    usage: answer.usage,
    ...(latencyMs !== undefined ? { latency_ms: latencyMs } : {}),
  };
}

/** A failed item: nothing is billed for it, and `retryable` says whether sending it again may succeed. */
export function failedResult(it: WorkUnitItem, error: ItemError, retryable: boolean): ItemResult {
  return {
    item_id: it.item_id,
    customer_item_id: it.customer_item_id,
    status: "failed",
    output: null,
    error,
    retryable,
    usage: { input_tokens: 0, output_tokens: 0 },
  };
}
