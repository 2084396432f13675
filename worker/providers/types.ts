import type { ManifestItem } from "../../server/manifest/item-schema.js";
import type { Lane, Operation, ProviderMode } from "../../server/catalog/types.js";
import type { SubmitIntentRow } from "../../db/queries/submit-attempts.js";

/**
 * The one interface every provider adapter implements (design.md §4). It is shaped like the real
 * batch APIs — submit, then poll, then collect — so a realtime fan-out adapter and the simulator
 * fit the same worker loop as OpenAI and Anthropic batches.
 */

/** One item of a work unit, as the worker hands it to an adapter. */
export interface WorkUnitItem {
  /** Our stable id for the item (the results join on it; providers see a safe custom id). */
  item_id: string;
  customer_item_id: string;
  operation: Operation;
  /** The model this item runs as on the lane (the router may have picked one of model_options). */
  model: string;
  item: ManifestItem;
  /** 1-based; a retry sends the item again with attempt + 1. */
  attempt: number;
}

export interface SubmitRequest {
  work_unit_id: string;
  lane: Lane;
  items: WorkUnitItem[];
  /**
   * An earlier submit of this unit may have reached the provider unrecorded (it failed, or its run
   * died after starting the items): an adapter that can look for that job adopts it rather than
   * creating a second one.
   */
  resubmit?: boolean;
  /**
   * The unit's log of creates, for an adapter whose provider keeps no tag of ours (Anthropic): it
   * notes each create before sending it, so a lost answer can be found again
   * (anthropic-batch-adopt.ts). worker/jobs/submit-work-unit.ts passes one.
   */
  journal?: SubmitJournal;
}

/** An intent as the journal stores it (db/queries/submit-attempts.ts), as an adapter sees it. */
export type Intent = Omit<SubmitIntentRow, "work_unit_id" | "settled_at">;

/** The unit's intent log; every write is durable before it returns. */
export interface SubmitJournal {
  /** The unit's intents not yet settled, oldest first. */
  earlier(): Promise<Intent[]>;
  intend(part: { part: number; item_count: number; items_digest: string }): Promise<Intent>;
  created(intentId: string, batchId: string): Promise<void>;
  /** False when another intent already holds the batch. */
  claim(intentId: string, batchId: string): Promise<boolean>;
  /** Which of these batches an intent of ours (any unit's) holds. */
  held(batchIds: readonly string[]): Promise<Set<string>>;
  settle(intentIds: readonly string[]): Promise<void>;
}

/**
 * What the provider gave back at submit. JSON-serialisable and persisted by the caller, because a
 * worker can die between any two calls and the next one must poll and collect from the ref alone.
 */
export interface ProviderJobRef {
  provider_job_id: string;
  /** Set by the caller after cancel() (see markCancelled); ms since the epoch. */
  cancelled_at?: number;
  [k: string]: unknown;
}

/**
 * The ref to store after cancel(): the same ref with `cancelled_at`. Real providers remember a
 * cancellation themselves and ignore the field; the simulator has no server, so the ref is where the
 * cancellation lives. An earlier cancellation time is kept.
 */
export function markCancelled<R extends ProviderJobRef>(ref: R, at: number): R & { cancelled_at: number } {
  const at_ = Math.floor(at);
  return { ...ref, cancelled_at: typeof ref.cancelled_at === "number" ? Math.min(ref.cancelled_at, at_) : at_ };
}

export type ProgressStatus = "in_progress" | "completed" | "failed" | "expired" | "cancelled";

export interface ProgressReport {
  status: ProgressStatus;
  counts: { total: number; completed: number; failed: number };
  error?: { code: string; message: string };
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** A function call the model asked for, in the OpenAI chat shape (arguments is a JSON string). */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type OutputContentPart = { type: "output_text"; text: string } | { type: "tool_call"; id: string; name: string; arguments: string };

/** The normalised output of `responses` and `vision` items (api.md §3b). */
export interface TextOutput {
  text: string;
  content: OutputContentPart[];
  tool_calls: ToolCall[];
  finish_reason: FinishReason;
  model: string;
  provider_response_id: string;
}

/** The normalised output of `embeddings` items: one vector per input string, in input order. */
export interface EmbeddingsOutput {
  embeddings: number[][];
  dimensions: number;
}

export type ItemErrorCode =
  | "provider_error"
  | "rate_limited"
  | "timeout"
  | "content_policy"
  | "invalid_input"
  | "context_length_exceeded"
  | "expired"
  | "cancelled";

export interface ItemError {
  code: ItemErrorCode;
  message: string;
  provider_status?: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export interface ItemResult {
  item_id: string;
  customer_item_id: string;
  status: "completed" | "failed";
  output: TextOutput | EmbeddingsOutput | null;
  error: ItemError | null;
  /** Whether sending the item again (attempt + 1) may succeed: 429, 5xx and timeouts. */
  retryable: boolean;
  usage: Usage;
  latency_ms?: number;
}

/** How one adapter runs work: for real, or on the simulator (never "off": an off provider gets no adapter). */
export type ExecutionMode = Exclude<ProviderMode, "off">;

export interface ProviderAdapter {
  readonly execution: ExecutionMode;
  /** Hands the items to the provider; throws ProviderError when the provider refuses the job. */
  submit(req: SubmitRequest, signal?: AbortSignal): Promise<ProviderJobRef>;
  poll(ref: ProviderJobRef): Promise<ProgressReport>;
  /** Yields every item of `req` exactly once, in any order. */
  collect(ref: ProviderJobRef, req: SubmitRequest): AsyncIterable<ItemResult>;
  cancel(ref: ProviderJobRef): Promise<void>;
  /** Frees what the provider keeps for a collected job (its files), once every result is committed. */
  release?(ref: ProviderJobRef): Promise<void>;
  /**
   * Stops what the unit's submits may have left at the provider unrecorded — a create whose answer
   * was lost, a worker killed before recording — once the unit is given up for good (its items
   * failed or moved to another lane). Without it such a job would run, and be billed, for items
   * that already ended. Best effort; retryable errors are thrown.
   */
  abandonSubmits?(req: SubmitRequest): Promise<void>;
  classify(err: unknown): "retryable" | "permanent";
}

/**
 * Known codes: rate_limited, provider_error, timeout, network_error, lane_at_capacity, lane_down,
 * invalid_request, unauthorized, forbidden, not_found, results_not_ready, ref_mismatch,
 * provider_disabled, aborted. Adapters may pass a provider's own code through.
 */
export class ProviderError extends Error {
  readonly status?: number;
  readonly code: string;
  readonly retryAfterMs?: number;
  readonly retryable: boolean;

  constructor(init: { code: string; message: string; status?: number; retryAfterMs?: number; retryable?: boolean; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    // Without an explicit verdict the HTTP status decides; no status at all means a transport
    // failure (the request may never have reached the provider), which is worth retrying.
    this.retryable = init.retryable ?? (init.status === undefined ? true : isRetryableStatus(init.status));
  }
}

/** 408, 409, 425, 429 and 5xx are worth retrying; any other status is the request's own fault. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}
