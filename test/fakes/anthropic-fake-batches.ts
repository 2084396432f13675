// The Message Batches state machine behind test/fakes/anthropic-fake.ts. Time drives it lazily: every API
// call (and every read of `fake.state`) first advances each batch to what the clock says, so a test needs
// no timers and an injected clock (`now`) can jump 24 hours.
//   in_progress --turnaround (unless held)--> ended    (results computed then, in a seeded shuffled order)
//   in_progress --cancel--> canceling --cancelMs--> ended   (unfinished requests `canceled`)
//   in_progress --24 h after creation (even if held)--> ended   (unfinished requests `expired`)

import {
  buildMessage,
  envelope,
  type ErrorObject,
  iso,
  type Json,
  makeId,
  seededRandom,
  triggeredError,
  validateParams,
} from "./anthropic-fake-bodies.js";

export type FaultKind = 429 | 500 | 529 | "timeout";
export type FakeOp = "messages" | "count_tokens" | "create" | "retrieve" | "list" | "cancel" | "delete" | "results";

/** Scenario knobs, changeable at any time with `fake.setFaults` (each read when it applies). */
export interface AnthropicFaults {
  /** Share (0..1) of calls answered with a fault instead of being served. */
  rate?: number;
  /** Faults to draw from; default [429, 529]. */
  kinds?: FaultKind[];
  /** Seed of the fault draw (default: the fake's seed); setFaults restarts the draw. */
  seed?: number;
  /** Operations that may fault; default all. */
  ops?: FakeOp[];
  /** Stop after this many injected faults (e.g. rate 1, count 2: the first two calls fail). */
  count?: number;
  /** `retry-after` on a 429, in seconds (fractions allowed so a retry test stays fast); default 1. */
  retryAfterSeconds?: number;
  /** How long a `timeout` holds the socket before destroying it; default 5000. */
  timeoutMs?: number;
  /** Batches that end now: only the first expireAfterFraction (default 0.5) of requests ran; the rest `expired`. */
  expire?: boolean;
  expireAfterFraction?: number;
  /** The results stream carries one corrupt (truncated) JSONL line in place of a real one. */
  malformedResults?: boolean;
  /** Share of requests that had already finished when a cancel lands (default 0: all `canceled`). */
  cancelFinishedFraction?: number;
  /**
   * The next N batch creates are carried out, then the connection is dropped before the answer: the
   * batch exists, but the caller never learns its id (a lost answer, or a worker killed right after
   * the provider accepted). Counts down in place.
   */
  loseCreates?: number;
}

export interface RequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

export interface BatchRequest {
  custom_id: string;
  params: Json;
}

export interface ResultLine {
  custom_id: string;
  result: Json;
}

export interface BatchRecord {
  id: string;
  /** Creation order; list pages and cursors use it. */
  seq: number;
  /** The anthropic-version the batch was created with: it decides how each request's params validate. */
  version: string;
  requests: BatchRequest[];
  status: "in_progress" | "canceling" | "ended";
  createdMs: number;
  dueMs: number;
  expiresMs: number;
  cancelMs: number | null;
  endedMs: number | null;
  archivedMs: number | null;
  /** Set when the batch ends, already in the (shuffled) order the results stream sends. */
  results: ResultLine[] | null;
  counts: RequestCounts;
}

export interface StoreConfig {
  now(): number;
  turnaroundMs: number;
  cancelMs: number;
  seed: number;
  models?: readonly string[];
  held(): boolean;
  faults(): AnthropicFaults;
  baseUrl(): string;
}

const DAY = 24 * 3600 * 1000;
/** Results stay downloadable 29 days from creation, then the batch is archived. */
const RETENTION = 29 * DAY;

export interface ListPage {
  data: Json[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export class BatchStore {
  readonly batches = new Map<string, BatchRecord>();
  /** Every id ever issued → seq, deleted ones too, so a list cursor survives a delete. */
  private readonly seqOf = new Map<string, number>();
  private nextSeq = 0;
  private readonly rand: () => number;

  constructor(private readonly cfg: StoreConfig) {
    this.rand = seededRandom(cfg.seed);
  }

  create(requests: BatchRequest[], version: string): BatchRecord {
    const now = this.cfg.now();
    let id = makeId("msgbatch_", this.rand);
    while (this.seqOf.has(id)) id = makeId("msgbatch_", this.rand);
    const n = requests.length;
    const rec: BatchRecord = {
      id,
      seq: this.nextSeq++,
      version,
      requests,
      status: "in_progress",
      createdMs: now,
      dueMs: now + this.cfg.turnaroundMs,
      expiresMs: now + DAY,
      cancelMs: null,
      endedMs: null,
      archivedMs: null,
      results: null,
      counts: { processing: n, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    };
    this.batches.set(id, rec);
    this.seqOf.set(id, rec.seq);
    return rec;
  }

  refreshAll(): void {
    for (const b of this.batches.values()) this.refresh(b);
  }

  private refresh(b: BatchRecord): void {
    const now = this.cfg.now();
    // An unheld batch whose turnaround passed finished then, even if nobody looked until after 24 h.
    if (b.status === "in_progress" && !this.cfg.held() && now >= b.dueMs) this.finish(b, "done", now);
    else if (b.status === "in_progress" && now >= b.expiresMs) this.finish(b, "expired", b.expiresMs);
    else if (b.status === "canceling" && now >= (b.cancelMs ?? now) + this.cfg.cancelMs) this.finish(b, "canceled", now);
    if (b.archivedMs === null && now >= b.createdMs + RETENTION) b.archivedMs = b.createdMs + RETENTION;
  }

  /** Runs the requests that finished and marks the rest; the order of the lines is a seeded shuffle. */
  private finish(b: BatchRecord, how: "done" | "canceled" | "expired", at: number): void {
    const f = this.cfg.faults();
    const n = b.requests.length;
    const ran =
      how === "done"
        ? f.expire
          ? Math.floor(n * (f.expireAfterFraction ?? 0.5))
          : n
        : how === "canceled"
          ? Math.floor(n * (f.cancelFinishedFraction ?? 0))
          : 0;
    const rest = how === "canceled" ? "canceled" : "expired";
    const lines: ResultLine[] = b.requests.map((r, i) => ({
      custom_id: r.custom_id,
      result: i < ran ? this.run(r.params, b.version) : { type: rest },
    }));
    const shuffle = seededRandom(this.cfg.seed ^ Math.imul(b.seq + 1, 0x9e3779b1));
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(shuffle() * (i + 1));
      [lines[i], lines[j]] = [lines[j], lines[i]];
    }
    const counts: RequestCounts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    for (const l of lines) counts[l.result.type as Exclude<keyof RequestCounts, "processing">]++;
    Object.assign(b, { status: "ended", endedMs: at, results: lines, counts });
  }

  /** One request as the batch worker would run it: params problems and prompt triggers become `errored`. */
  private run(params: Json, version: string): Json {
    const err = validateParams(params, { version, models: this.cfg.models, inBatch: true }) ?? triggeredError(params);
    if (err) return { type: "errored", error: envelope(err.type, err.message, makeId("req_", this.rand)) };
    return { type: "succeeded", message: buildMessage(params, "batch", this.rand) };
  }

  cancel(b: BatchRecord): void {
    b.status = "canceling";
    b.cancelMs = this.cfg.now();
  }

  remove(b: BatchRecord): void {
    this.batches.delete(b.id);
  }

  /** The wire object, field for field as the API sends it. */
  view(b: BatchRecord): Json {
    return {
      id: b.id,
      type: "message_batch",
      processing_status: b.status,
      request_counts: { ...b.counts },
      ended_at: b.endedMs === null ? null : iso(b.endedMs),
      created_at: iso(b.createdMs),
      expires_at: iso(b.expiresMs),
      archived_at: b.archivedMs === null ? null : iso(b.archivedMs),
      cancel_initiated_at: b.cancelMs === null ? null : iso(b.cancelMs),
      results_url: b.status === "ended" ? `${this.cfg.baseUrl()}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  /**
   * Newest first. `after_id` pages toward older batches (the SDK's next page passes last_id);
   * `before_id` returns the `limit` batches just newer than the cursor, still newest first (the SDK's
   * reverse paging passes first_id).
   */
  list(q: URLSearchParams): ListPage | ErrorObject {
    const bad = (message: string): ErrorObject => ({ type: "invalid_request_error", message });
    const rawLimit = q.get("limit");
    const limit = rawLimit === null ? 20 : Number(rawLimit);
    if (!Number.isInteger(limit)) return bad("limit: Input should be a valid integer");
    if (limit < 1) return bad("limit: Input should be greater than or equal to 1");
    if (limit > 1000) return bad("limit: Input should be less than or equal to 1000");
    const before = q.get("before_id");
    const after = q.get("after_id");
    if (before && after) return bad("before_id and after_id cannot both be given");
    const cursor = before ?? after;
    const cursorSeq = cursor ? this.seqOf.get(cursor) : undefined;
    if (cursor && cursorSeq === undefined) return bad(`${before ? "before_id" : "after_id"}: no Message Batch with id '${cursor}'`);
    const live = [...this.batches.values()].sort((x, y) => y.seq - x.seq);
    let page: BatchRecord[];
    let hasMore: boolean;
    if (after && cursorSeq !== undefined) {
      const older = live.filter((b) => b.seq < cursorSeq);
      page = older.slice(0, limit);
      hasMore = older.length > limit;
    } else if (before && cursorSeq !== undefined) {
      const newer = live.filter((b) => b.seq > cursorSeq);
      page = newer.slice(Math.max(0, newer.length - limit));
      hasMore = newer.length > limit;
    } else {
      page = live.slice(0, limit);
      hasMore = live.length > limit;
    }
    return { data: page.map((b) => this.view(b)), has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
  }
}
