import type { Db } from "../../db/connection.js";
import { addRateLimitPoints } from "../../db/queries/rate-limits.js";
import { settleWithin } from "./settle-within.js";
import { type CounterView, refreshBy, SharedCounterViews, taken } from "./shared-counter-views.js";

export interface SyncedRateLimiterOptions {
  /** Prefix of the counter rows (`${keyPrefix}:${key}`), one per limiter. */
  keyPrefix: string;
  /** Requests allowed per window. */
  points: number;
  durationSeconds: number;
  /** How often counts taken in memory are added to the shared rows. */
  syncIntervalMs?: number;
  /** A view of a key older than this is refreshed before it admits anything (default: 2 sync intervals). */
  staleAfterMs?: number;
  /** The last points of every window are taken one by one in the database (exact); the default is 50. */
  exactTail?: number;
  /** The longest a request waits on the database, then it is decided locally (default 250 ms)… */
  maxWaitMs?: number;
  /** …and this is told (with why: the database failed, or was slower). */
  onLocalDecision?: (reason: unknown) => void;
}

export interface LimitDecision {
  allowed: boolean;
  /** The limiter's points per window: what RateLimit-Limit shows. */
  limit: number;
  remaining: number;
  msBeforeReset: number;
}

export const DEFAULT_SYNC_INTERVAL_MS = 100;
export const DEFAULT_MAX_WAIT_MS = 250;
const DEFAULT_EXACT_TAIL = 50;
/** Counts that can't reach the database for this long stop being sent, but still count here. */
const GIVE_UP_AFTER_MS = 10_000;
const PRUNE_ABOVE = 10_000;

/**
 * A fixed-window rate limiter shared by every API process through the `rate_limits` table, without a
 * hot row on the request path.
 *
 * Most points are taken in memory and added to the shared row every `syncIntervalMs` (one upsert per
 * flush for all keys, however many requests it stands for); each flush returns the shared total, so a
 * process learns what the others took. A view older than `staleAfterMs` admits nothing until a round
 * trip refreshes it (requests wait for one under way rather than each going to the row), and the last
 * `exactTail` points of a window are taken with one atomic upsert per request — so one process alone,
 * and any limit of `exactTail` or less, is exact, and a spent window is refused from memory.
 *
 * Tolerance across P processes: a process doesn't see what the others took since its view was read
 * (at most `staleAfterMs` ago) nor what they haven't flushed yet (up to an interval and a round trip),
 * so with the defaults a window admits at most about
 *   limit + (P − 1) × (requests per second each process admits for that key) × (3 × syncIntervalMs + round trip),
 * e.g. 2 processes, 100 ms, 500 req/s each → limit + ~160. It never admits fewer than the limit: the
 * database counts a refused request only once the window is already spent.
 *
 * No request waits on the database longer than `maxWaitMs`, nor fails because of it: a request
 * whose round trip fails or takes longer is decided on this process's last view plus its own counts
 * (failing open), and until a sync succeeds again every request is decided that way at once. So
 * while the database is unreachable each process enforces the limit on what it saw and took itself
 * — one process stays exact; P processes admit at most about P × limit per window between them.
 */
export class SyncedRateLimiter {
  readonly points: number;
  private readonly durationMs: number;
  private readonly intervalMs: number;
  private readonly exactTail: number;
  private readonly staleAfterMs: number;
  private readonly views: SharedCounterViews;
  private readonly maxWaitMs: number;
  private readonly onLocalDecision: (reason: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  /** One flush at a time: a slow database must not stack them up. */
  private flushing = false;
  private failingSince: number | null = null;
  /** Set while the database fails or is slower than maxWaitMs: requests are decided locally, at once. */
  private unreachable = false;

  constructor(
    private readonly db: Db,
    opts: SyncedRateLimiterOptions,
  ) {
    this.points = opts.points;
    this.durationMs = opts.durationSeconds * 1000;
    this.views = new SharedCounterViews(opts.keyPrefix, this.durationMs);
    this.intervalMs = opts.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.exactTail = Math.min(opts.points, opts.exactTail ?? DEFAULT_EXACT_TAIL);
    this.staleAfterMs = opts.staleAfterMs ?? 2 * this.intervalMs;
    this.maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.onLocalDecision = opts.onLocalDecision ?? (() => undefined);
  }

  /**
   * The decision when this process's view can make it alone — the common case, answered without a
   * promise (this runs twice on every request) — or undefined when it takes the database.
   */
  tryConsume(key: string): LimitDecision | undefined {
    const now = Date.now();
    if (this.views.size > PRUNE_ABOVE) this.views.prune(now);
    const w = this.views.current(key, now);
    if (!w) return this.unreachable ? this.decideLocally(this.views.viewOf(key, now), now, "the database is not answering") : undefined;
    const used = taken(w);
    if (used >= this.points) return this.refusal(w, now);
    if (this.unreachable) return this.decideLocally(w, now, "the database is not answering");
    if (used + 1 <= this.points - this.exactTail && now - w.syncedAt <= this.staleAfterMs) return this.decideLocally(w, now);
    return undefined;
  }

  /** Takes one point for `key`, or refuses when its window is spent. Never throws, never waits past maxWaitMs. */
  async consume(key: string): Promise<LimitDecision> {
    const quick = this.tryConsume(key);
    if (quick) return quick;
    const now = Date.now();
    const w = this.views.get(key);
    // A stale view: decide on the fresh one a round trip under way brings, rather than each
    // request going to the row itself (the hot row this class exists to avoid).
    if (w?.refreshing && taken(w) + 1 <= this.points - this.exactTail) {
      if (await settleWithin(w.refreshing, this.maxWaitMs)) return this.consume(key);
      this.unreachable = true;
      return this.decideLocally(w, now, new Error(`the rate-limit sync took longer than ${this.maxWaitMs} ms`));
    }
    return this.consumeInDatabase(key, now);
  }

  private refusal(w: CounterView, now: number): LimitDecision {
    return { allowed: false, limit: this.points, remaining: 0, msBeforeReset: w.expire - now };
  }

  /** Takes the point in memory if the view has room; `reason` says why the database wasn't asked. */
  private decideLocally(w: CounterView, now: number, reason?: unknown): LimitDecision {
    if (reason !== undefined) this.onLocalDecision(reason);
    const used = taken(w);
    if (used >= this.points) return this.refusal(w, now);
    w.pending++;
    this.scheduleFlush();
    return { allowed: true, limit: this.points, remaining: this.points - used - 1, msBeforeReset: w.expire - now };
  }

  /**
   * One atomic upsert for this request, carrying the points taken here and not yet sent. Should it
   * fail or outlast maxWaitMs, the request is decided on the local view instead; a late answer is
   * still folded in, and a failed one hands its points back to be sent with the next flush.
   */
  private async consumeInDatabase(key: string, now: number): Promise<LimitDecision> {
    const w = this.views.viewOf(key, now);
    const carried = w.pending;
    const sent = carried + 1;
    w.pending = 0;
    w.inflight += sent;
    const current = () => this.views.isCurrent(key, w);
    // This request admitted on the local view while its point was on its way: a failure keeps the point.
    let admittedMeanwhile = false;
    const op = addRateLimitPoints(this.db, [{ key: this.views.rowKey(key), points: sent }], this.durationMs, now).then(
      ([total]) => {
        if (current()) w.inflight -= sent;
        this.reachable();
        return { total: total!, view: this.views.record(total!, now) };
      },
      (err: unknown) => {
        if (current()) {
          w.inflight -= sent;
          w.pending += carried + (admittedMeanwhile ? 1 : 0);
        }
        this.failed();
        return { err };
      },
    );
    refreshBy(w, op);
    const answer = await settleWithin(op, this.maxWaitMs);
    if (answer && "total" in answer.value) {
      const { total, view } = answer.value;
      const remaining = Math.max(0, this.points - taken(view));
      return { allowed: total.points <= this.points, limit: this.points, remaining, msBeforeReset: view.expire - now };
    }
    this.unreachable = true;
    const reason = answer
      ? (answer.value as { err: unknown }).err
      : new Error(`the rate-limit round trip took longer than ${this.maxWaitMs} ms`);
    if (answer || !current()) return this.decideLocally(this.views.viewOf(key, now), now, reason);
    // Still on its way, this request's point already sits in `inflight`: it fits if the total does.
    this.onLocalDecision(reason);
    const used = taken(w);
    admittedMeanwhile = used <= this.points;
    return { allowed: admittedMeanwhile, limit: this.points, remaining: Math.max(0, this.points - used), msBeforeReset: w.expire - now };
  }

  private reachable(): void {
    this.unreachable = false;
    this.failingSince = null;
  }

  private failed(): void {
    this.unreachable = true;
    this.failingSince ??= Date.now();
  }

  private scheduleFlush(): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.intervalMs);
    // Never what keeps a process alive: counts still pending at exit are at most one interval's worth.
    this.timer.unref();
  }

  /** Adds every count taken in memory to the shared rows (one statement) and reads the totals back. */
  async flush(): Promise<void> {
    const now = Date.now();
    // The process is shutting down (knex drops its pool on destroy): nothing left to sync to.
    if (!(this.db.client as { pool?: unknown }).pool) return this.views.clear();
    const sent = this.views.takePending();
    if (sent.length === 0) return this.views.prune(now);
    this.flushing = true;
    try {
      const op = addRateLimitPoints(
        this.db,
        sent.map(([key, , points]) => ({ key: this.views.rowKey(key), points })),
        this.durationMs,
        now,
      );
      for (const [, w] of sent) refreshBy(w, op);
      const totals = await op;
      this.views.settle(sent, "sent");
      this.reachable();
      for (const t of totals) this.views.record(t, now);
    } catch {
      this.failed();
      // Past the give-up point the counts stop being sent but still count here.
      this.views.settle(sent, now - this.failingSince! < GIVE_UP_AFTER_MS ? "retry" : "keep-local");
    } finally {
      this.flushing = false;
    }
    this.views.prune(Date.now());
    if (this.views.hasPending()) this.scheduleFlush();
  }
}
