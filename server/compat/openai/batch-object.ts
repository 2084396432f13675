import type { BatchRow, BatchStatus } from "../../../db/queries/batches.js";
import { withUnwrittenItems } from "../../batches/statuses.js";

/** The endpoints an OpenAI batch may target; one batch, one endpoint (every line's `url`). */
export const OPENAI_ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions"] as const;
export type OpenAiEndpoint = (typeof OPENAI_ENDPOINTS)[number];

export type OpenAiBatchStatus =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled";

/**
 * Our lifecycle folded onto OpenAI's. Until dispatch has sent the work out nothing runs yet, which is
 * what an OpenAI client reads from `validating`; `completing` (writing the result files) is OpenAI's
 * `finalizing`.
 */
const STATUS: Record<BatchStatus, OpenAiBatchStatus> = {
  validating: "validating",
  pending: "validating",
  queued: "validating",
  routing: "validating",
  dispatched: "in_progress",
  processing: "in_progress",
  completing: "finalizing",
  completed: "completed",
  failed: "failed",
  cancelling: "cancelling",
  cancelled: "cancelled",
  expired: "expired",
};

export const openAiStatus = (status: BatchStatus): OpenAiBatchStatus => STATUS[status];

/** OpenAI names only three windows' worth of tiers; ours map onto their lengths. */
const WINDOW: Record<string, string> = { priority: "1h", standard: "24h", flex: "48h" };

const unix = (d: Date | null | undefined): number | null => (d ? Math.floor(d.getTime() / 1000) : null);

/** `{completed, failed}` from our item counts: cancelled and expired items are in the error file, so they count as failed. */
export function requestCounts(total: number, counts: Record<string, number>) {
  const failed = (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.expired ?? 0);
  return { total, completed: counts.completed ?? 0, failed };
}

export interface BatchFacts {
  row: BatchRow;
  /** Item counts by status. */
  counts: Record<string, number>;
  endpoint: OpenAiEndpoint;
  /** The model the items asked for (the first item's), or null when none named one. */
  model?: string | null;
  /** Tokens the finished items used. */
  tokens?: { input: number; output: number };
}

/**
 * The OpenAI batch object of one of our batches (Unix seconds, null until reached). Our rows keep
 * no separate "finalizing" or "cancelling" time: `updated_at` stands in while the batch is in that
 * state, and `cancelled_at` (stamped when the cancel was asked for) is OpenAI's `cancelling_at`.
 * The output and error files are named only once written, and only when they hold a line, as
 * OpenAI does.
 */
export function toOpenAiBatch({ row, counts, endpoint, model = null, tokens = { input: 0, output: 0 } }: BatchFacts) {
  // Ours ends `failed` when every item failed; OpenAI calls that `completed` (with an error file) and
  // keeps `failed` for a batch that never ran.
  const allFailed = row.status === "failed" && row.error?.code === "all_items_failed";
  const status = allFailed ? "completed" : openAiStatus(row.status);
  const rc = requestCounts(row.item_count, withUnwrittenItems(row.status, row.item_count, counts));
  const ended = status === "completed" || status === "failed" || status === "expired" || status === "cancelled";
  const endedAt = row.completed_at ?? row.failed_at ?? row.expired_at ?? (ended ? row.updated_at : null);
  return {
    id: row.id,
    object: "batch" as const,
    endpoint,
    errors: status === "failed" ? batchErrors(row.error) : null,
    input_file_id: row.input_file_id ?? "",
    completion_window: WINDOW[row.sla_tier] ?? "24h",
    status,
    output_file_id: rc.completed > 0 ? (row.artifacts?.output?.file_id ?? null) : null,
    error_file_id: rc.failed > 0 ? (row.artifacts?.errors?.file_id ?? null) : null,
    created_at: unix(row.created_at)!,
    in_progress_at: unix(row.dispatched_at),
    expires_at: unix(row.sla_deadline),
    finalizing_at: status === "finalizing" ? unix(row.updated_at) : ended && status !== "cancelled" ? unix(endedAt) : null,
    completed_at: status === "completed" ? unix(endedAt) : null,
    failed_at: status === "failed" ? unix(row.failed_at ?? endedAt) : null,
    expired_at: status === "expired" ? unix(row.expired_at ?? endedAt) : null,
    cancelling_at: status === "cancelling" || status === "cancelled" ? unix(row.cancelled_at) : null,
    cancelled_at: status === "cancelled" ? unix(row.completed_at ?? row.updated_at) : null,
    request_counts: rc,
    metadata: row.metadata ?? null,
    model,
    usage: {
      input_tokens: tokens.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: tokens.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: tokens.input + tokens.output,
    },
  };
}
export type OpenAiBatch = ReturnType<typeof toOpenAiBatch>;

interface PreflightEntry {
  line?: number;
  code: string;
  message: string;
}

/** A failed batch's `errors`: one entry per bad manifest line when we know them, else the batch's own error. */
export function batchErrors(error: BatchRow["error"]) {
  if (!error) return null;
  const lines = (error.details as { preflight?: PreflightEntry[] } | undefined)?.preflight;
  const data = lines?.length
    ? lines.map((p) => ({ code: p.code, message: p.message, param: null, line: p.line ?? null }))
    : [{ code: error.code, message: error.message, param: null, line: null }];
  return { object: "list" as const, data };
}
