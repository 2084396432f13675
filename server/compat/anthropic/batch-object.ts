import type { BatchRow, BatchStatus } from "../../../db/queries/batches.js";
import { withUnwrittenItems } from "../../batches/statuses.js";

export type AnthropicProcessingStatus = "in_progress" | "canceling" | "ended";

/** Anthropic has three states: everything before the end (routing, dispatch, writing results) is in_progress. */
export function processingStatus(status: BatchStatus): AnthropicProcessingStatus {
  switch (status) {
    case "completed":
    case "failed":
    case "cancelled":
    case "expired":
      return "ended";
    case "cancelling":
      return "canceling";
    default:
      return "in_progress";
  }
}

/**
 * Anthropic's `request_counts` from our item counts by status. Every item not yet finished
 * (queued, processing, retry) is `processing`, so the five always add up to the batch's size.
 */
export function requestCounts(total: number, counts: Record<string, number>) {
  const succeeded = counts.completed ?? 0;
  const errored = counts.failed ?? 0;
  const canceled = counts.cancelled ?? 0;
  const expired = counts.expired ?? 0;
  return { processing: Math.max(0, total - succeeded - errored - canceled - expired), succeeded, errored, canceled, expired };
}

/**
 * How many requests the batch holds. Requests rejected at create are items from the start, but join
 * the batch's item count only once its manifest's items are written (the count then covers both):
 * while it validates, they are on top of it.
 */
function requestTotal(row: BatchRow, counts: Record<string, number>): number {
  const items = Object.values(counts).reduce((a, b) => a + b, 0);
  return row.status === "validating" ? row.item_count + items : Math.max(row.item_count, items);
}

function anthropicCounts(row: BatchRow, counts: Record<string, number>) {
  const total = requestTotal(row, counts);
  return requestCounts(total, withUnwrittenItems(row.status, total, counts));
}

const rfc3339 = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** The results URL Anthropic's SDK fetches (absolute: the SDK requests it as given). */
export const resultsUrl = (origin: string, id: string) => `${origin}/v1/anthropic/v1/messages/batches/${id}/results`;

/**
 * The Anthropic batch object of one of our batches (same id on both surfaces). Our rows keep no
 * separate end time for a cancelled batch, so `updated_at` stands in; `cancelled_at` is stamped
 * when the cancel was asked for, which is Anthropic's `cancel_initiated_at`. Batches are never
 * archived here, and `results_url` appears only once the batch has ended, as Anthropic does.
 */
export function toAnthropicBatch(row: BatchRow, counts: Record<string, number>, origin: string) {
  const status = processingStatus(row.status);
  const ended = status === "ended";
  return {
    id: row.id,
    type: "message_batch" as const,
    processing_status: status,
    request_counts: anthropicCounts(row, counts),
    created_at: rfc3339(row.created_at)!,
    expires_at: rfc3339(row.sla_deadline)!,
    ended_at: ended ? rfc3339(row.completed_at ?? row.failed_at ?? row.expired_at ?? row.updated_at) : null,
    cancel_initiated_at: rfc3339(row.cancelled_at),
    archived_at: null,
    results_url: ended ? resultsUrl(origin, row.id) : null,
  };
}
export type AnthropicBatch = ReturnType<typeof toAnthropicBatch>;
