/**
 * The Batch API of the OpenAI fake: create, retrieve, list, cancel, and a time-driven lifecycle
 * `validating → in_progress → finalizing → completed` (each phase a third of `turnaroundMs`), with the
 * side exits OpenAI has: `validating → failed`, `in_progress → expired`, `→ cancelling → cancelled`.
 * Results are computed when the batch ends and written as output/error files into the FileStore.
 */
import { estimateInputTokens, REALTIME_ENDPOINTS, type IdFn } from "./openai-fake-bodies.js";
import type { Faults } from "./openai-fake-faults.js";
import type { FileStore } from "./openai-fake-files.js";
import { runLines } from "./openai-fake-results.js";
import { type BatchErrorWire, type BatchLine, checkMetadata, checkOutputExpiry, validateInput } from "./openai-fake-validate.js";
import { HttpError, badRequest, cursorPage, errorBody, hash32, nowSec, parseLimit, seededShuffle } from "./openai-fake-util.js";

export type BatchStatus = "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";

/** The wire Batch object (openai `Batch`): Unix seconds, null until a phase is reached. */
export interface BatchWire {
  id: string;
  object: "batch";
  endpoint: string;
  model: string | null;
  errors: { object: "list"; data: BatchErrorWire[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  usage?: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  };
}

export interface BatchRecord {
  wire: BatchWire;
  /** Valid input lines, in input order. */
  lines: BatchLine[];
  /** Why validation will fail (revealed when `validating` ends), or empty. */
  pendingErrors: BatchErrorWire[];
  /** Input tokens this batch holds against the per-model enqueued-token limit while in flight. */
  enqueuedTokens: number;
  outputExpiresAfter?: number;
  timer?: NodeJS.Timeout;
  /** True when the batch finished in_progress while the fake was held, waiting for release(). */
  parked: boolean;
}

export interface BatchEngineConfig {
  files: FileStore;
  ids: IdFn;
  seed: number;
  maxLines: number;
  maxBytes: number;
  maxEmbeddingInputs: number;
  enqueuedTokenLimit: number;
  cancelFinishedFraction: number;
  turnaroundMs: () => number;
  held: () => boolean;
  faults: () => Faults;
}

const DAY = 86_400;
const IN_FLIGHT: BatchStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];

export class BatchEngine {
  readonly batches = new Map<string, BatchRecord>();

  constructor(private readonly cfg: BatchEngineConfig) {}

  create(body: Record<string, unknown>): BatchWire {
    const { input_file_id: fileId, endpoint, completion_window: window, metadata } = body;
    if (typeof fileId !== "string")
      throw badRequest("Missing required parameter: 'input_file_id'.", "input_file_id", "missing_required_parameter");
    if (typeof endpoint !== "string") throw badRequest("Missing required parameter: 'endpoint'.", "endpoint", "missing_required_parameter");
    if (!(REALTIME_ENDPOINTS as readonly string[]).includes(endpoint))
      throw badRequest(`Invalid 'endpoint': this fake supports ${REALTIME_ENDPOINTS.join(", ")}.`, "endpoint", "invalid_value");
    if (window !== "24h") throw badRequest("Invalid 'completion_window': only '24h' is supported.", "completion_window", "invalid_value");
    checkMetadata(metadata);
    const outputExpiresAfter = checkOutputExpiry(body.output_expires_after);
    const file = this.cfg.files.get(fileId, "input_file_id");
    if (file.wire.purpose !== "batch")
      throw badRequest(`The input file ${fileId} must have purpose 'batch'.`, "input_file_id", "invalid_value");
    if (file.content.length > this.cfg.maxBytes)
      throw badRequest(
        `The input file is ${file.content.length} bytes, more than the maximum of ${this.cfg.maxBytes} bytes for a batch.`,
        "input_file_id",
        "file_too_large",
      );

    const v = validateInput(file.content, endpoint, { maxLines: this.cfg.maxLines, maxEmbeddingInputs: this.cfg.maxEmbeddingInputs });
    const tokens = v.lines.reduce((n, l) => n + estimateInputTokens(endpoint, l.body), 0);
    const pendingErrors = v.errors.length ? v.errors : this.tokenLimitErrors(v.model ?? "", tokens);
    const created = nowSec();
    const wire: BatchWire = {
      id: this.cfg.ids("batch_"),
      object: "batch",
      endpoint,
      model: null,
      errors: null,
      input_file_id: fileId,
      completion_window: "24h",
      status: "validating",
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + DAY,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: (metadata as Record<string, string> | undefined) ?? null,
    };
    const rec: BatchRecord = {
      wire,
      lines: v.lines,
      pendingErrors,
      enqueuedTokens: pendingErrors.length ? 0 : tokens,
      outputExpiresAfter,
      parked: false,
    };
    if (v.model) wire.model = v.model;
    this.batches.set(wire.id, rec);
    this.schedule(rec, () => this.endValidation(rec));
    return wire;
  }

  get(id: string): BatchRecord {
    const b = this.batches.get(id);
    if (!b) throw new HttpError(404, errorBody(`No batch found with id '${id}'.`, "invalid_request_error", "batch_id", null));
    return b;
  }

  list(q: URLSearchParams) {
    const all = [...this.batches.values()].map((b) => b.wire).reverse();
    return cursorPage(all, q.get("after"), parseLimit(q.get("limit"), 20, 100));
  }

  cancel(id: string): BatchWire {
    const b = this.get(id);
    const s = b.wire.status;
    if (s === "cancelling") return b.wire;
    if (s !== "validating" && s !== "in_progress" && s !== "finalizing")
      throw badRequest(`Cannot cancel a batch with status '${s}'.`, null, null);
    clearTimeout(b.timer);
    b.parked = false;
    // Requests already done stay done: all of them once finalizing, a share while in progress.
    const finished =
      s === "validating" ? 0 : s === "finalizing" ? b.lines.length : Math.floor(b.lines.length * this.cfg.cancelFinishedFraction);
    if (s === "validating") b.lines = [];
    b.wire.status = "cancelling";
    b.wire.cancelling_at = nowSec();
    this.schedule(b, () => this.finish(b, "cancelled", finished));
    return b.wire;
  }

  /** Lets batches held in in_progress move on (see OpenAiFake.hold). */
  release(): void {
    for (const b of this.batches.values()) {
      if (!b.parked) continue;
      b.parked = false;
      this.schedule(b, () => this.leaveProgress(b));
    }
  }

  close(): void {
    for (const b of this.batches.values()) clearTimeout(b.timer);
  }

  /** The per-model cap on input tokens across in-flight batches; OpenAI reports it on the batch. */
  private tokenLimitErrors(model: string, tokens: number): BatchErrorWire[] {
    const limit = this.cfg.enqueuedTokenLimit;
    const enqueued = [...this.batches.values()]
      .filter((b) => b.wire.model === model && IN_FLIGHT.includes(b.wire.status))
      .reduce((n, b) => n + b.enqueuedTokens, 0);
    if (!this.cfg.faults().tokenLimitExceeded && enqueued + tokens <= limit) return [];
    const shown = Number.isFinite(limit) ? limit.toLocaleString("en-US") : "2,000,000";
    const message = `Enqueued token limit reached for ${model} in organization org-fake. Limit: ${shown} enqueued tokens. Please try again once some in_progress batches have been completed.`;
    return [{ code: "token_limit_exceeded", message, param: null, line: null }];
  }

  private schedule(b: BatchRecord, step: () => void): void {
    clearTimeout(b.timer);
    b.timer = setTimeout(step, Math.max(1, Math.round(this.cfg.turnaroundMs() / 3)));
    // A forgotten close() must not keep a test process alive.
    b.timer.unref();
  }

  private endValidation(b: BatchRecord): void {
    if (b.wire.status !== "validating") return;
    if (b.pendingErrors.length) {
      b.wire.status = "failed";
      b.wire.failed_at = nowSec();
      b.wire.errors = { object: "list", data: b.pendingErrors };
      return;
    }
    b.wire.status = "in_progress";
    b.wire.in_progress_at = nowSec();
    b.wire.request_counts.total = b.lines.length;
    this.schedule(b, () => this.leaveProgress(b));
  }

  private leaveProgress(b: BatchRecord): void {
    if (b.wire.status !== "in_progress") return;
    if (this.cfg.held()) {
      b.parked = true;
      return;
    }
    const f = this.cfg.faults();
    if (f.expire) {
      this.finish(b, "expired", Math.floor(b.lines.length * f.expireAfterFraction));
      return;
    }
    b.wire.status = "finalizing";
    b.wire.finalizing_at = nowSec();
    this.schedule(b, () => this.finish(b, "completed", b.lines.length));
  }

  /** Ends the batch: runs the first `finished` requests, marks the rest expired/cancelled, writes files. */
  private finish(b: BatchRecord, status: "completed" | "expired" | "cancelled", finished: number): void {
    const unfinished = status === "expired" ? "batch_expired" : "batch_cancelled";
    const { ok, failed, usage } = runLines(b.lines, b.wire.endpoint, finished, unfinished, this.cfg.ids);
    const seed = this.cfg.seed ^ hash32(b.wire.id);
    const okLines = seededShuffle(ok, seed);
    const mid = Math.floor(okLines.length / 2);
    // A write cut short mid-line: the line that was there is lost, the others still parse.
    if (this.cfg.faults().malformedOutput && okLines.length)
      okLines[mid] = (okLines[mid] as string).slice(0, Math.floor((okLines[mid] as string).length / 2));
    const write = (lines: string[], kind: string) =>
      lines.length
        ? this.cfg.files.add(Buffer.from(`${lines.join("\n")}\n`), `${b.wire.id}_${kind}.jsonl`, "batch_output", b.outputExpiresAfter).wire
            .id
        : null;
    const w = b.wire;
    w.output_file_id = write(okLines, "output");
    w.error_file_id = write(seededShuffle(failed, seed + 1), "error");
    // Every request ends in one file: unfinished ones count as failed, so completed + failed = total.
    w.request_counts = { total: b.lines.length, completed: ok.length, failed: failed.length };
    w.usage = {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.input + usage.output,
    };
    w.status = status;
    w[`${status}_at`] = nowSec();
    b.enqueuedTokens = 0;
  }
}
