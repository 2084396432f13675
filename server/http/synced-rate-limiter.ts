import type { Db } from "../../db/connection.js";
import { addRateLimitPoints, type RateLimitTotal } from "../../db/queries/rate-limits.js";
import { settleWithin } from "./settle-within.js";

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
  remaining: number;
  msBeforeReset: number;
}

/** One counter as this process sees it. */
interface Window {
  /** End of the window (epoch ms), as the shared row says. */
  expire: number;
  /** The shared total at the last answer from the database (ours included). */
  seen: number;
  /** Taken here and on their way to the database. */
  inflight: number;
  /** Taken here, not yet sent. */
  pending: number;
  syncedAt: number;
  /** A database round trip under way that will refresh this view; stale requests wait for it. */
  refreshing: Promise<unknown> | null;
  /** Opened here while the database didn't answer: the shared row's window replaces it once known. */
  provisional?: true;
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
  private readonly prefix: string;
  private readonly durationMs: number;
  private readonly intervalMs: number;
  private readonly exactTail: number;
  private readonly staleAfterMs: number;
  private readonly windows = new Map<string, Window>();
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
    this.prefix = opts.keyPrefix;
    this.durationMs = opts.durationSeconds * 1000;
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
    const id = `${this.prefix}:${key}`;
    const now = Date.now();
    if (this.windows.size > PRUNE_ABOVE) this.prune(now);
    let w = this.windows.get(id);
    if (w && w.expire <= now) {
      this.windows.delete(id);
      w = undefined;
    }
    if (!w) return this.unreachable ? this.decideLocally(this.viewOf(id, now), now, "the database is not answering") : undefined;
    const taken = w.seen + w.inflight + w.pending;
    if (taken >= this.points) return { allowed: false, remaining: 0, msBeforeReset: w.expire - now };
    if (this.unreachable) return this.decideLocally(w, now, "the database is not answering");
    if (taken + 1 <= this.points - this.exactTail && now - w.syncedAt <= this.staleAfterMs) return this.decideLocally(w, now);
    return undefined;
  }

  /** Takes one point for `key`, or refuses when its window is spent. Never throws, never waits past maxWaitMs. */
  async consume(key: string): Promise<LimitDecision> {
    const quick = this.tryConsume(key);
    if (quick) return quick;
    const id = `${this.prefix}:${key}`;
    const now = Date.now();
    const w = this.windows.get(id);
    // A stale view: decide on the fresh one a round trip under way brings, rather than each
    // request going to the row itself (the hot row this class exists to avoid).
    if (w?.refreshing && w.seen + w.inflight + w.pending + 1 <= this.points - this.exactTail) {
      if (await settleWithin(w.refreshing, this.maxWaitMs)) return this.consume(key);
      this.unreachable = true;
      return this.decideLocally(w, now, new Error(`the rate-limit sync took longer than ${this.maxWaitMs} ms`));
    }
    return this.consumeInDatabase(id, now);
  }

  /** Takes the point in memory if the view has room; `reason` says why the database wasn't asked. */
  private decideLocally(w: Window, now: number, reason?: unknown): LimitDecision {
    if (reason !== undefined) this.onLocalDecision(reason);
    const taken = w.seen + w.inflight + w.pending;
    if (taken >= this.points) return { allowed: false, remaining: 0, msBeforeReset: w.expire - now };
    w.pending++;
    this.scheduleFlush();
    return { allowed: true, remaining: this.points - taken - 1, msBeforeReset: w.expire - now };
  }

  /** The key's window, or one opened here while the database can't tell; record() replaces it once it can. */
  private viewOf(id: string, now: number): Window {
    const known = this.windows.get(id);
    if (known) return known;
    const w: Window = { expire: now + this.durationMs, seen: 0, inflight: 0, pending: 0, syncedAt: 0, refreshing: null, provisional: true };
    this.windows.set(id, w);
    return w;
  }

  /** Marks `w` as being refreshed by `op` (unless something else already is). */
  private refreshBy(w: Window, op: Promise<unknown>): void {
    if (w.refreshing) return;
    const settled = op.then(
      () => undefined,
      () => undefined,
    );
    w.refreshing = settled;
    void settled.then(() => {
      if (w.refreshing === settled) w.refreshing = null;
    });
  }

  /**
   * One atomic upsert for this request, carrying the points taken here and not yet sent. Should it
   * fail or outlast maxWaitMs, the request is decided on the local view instead; a late answer is
   * still folded in, and a failed one hands its points back to be sent with the next flush.
   */
  private async consumeInDatabase(id: string, now: number): Promise<LimitDecision> {
    const w = this.viewOf(id, now);
    const carried = w.pending;
    const sent = carried + 1;
    w.pending = 0;
    w.inflight += sent;
    const current = () => this.windows.get(id) === w;
    // This request admitted on the local view while its point was on its way: a failure keeps the point.
    let admittedMeanwhile = false;
    const op = addRateLimitPoints(this.db, [{ key: id, points: sent }], this.durationMs, now).then(
      ([total]) => {
        if (current()) w.inflight -= sent;
        this.reachable();
        return { total: total!, window: this.record(total!, now) };
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
    this.refreshBy(w, op);
    const answer = await settleWithin(op, this.maxWaitMs);
    if (answer && "total" in answer.value) {
      const { total, window: v } = answer.value;
      const remaining = Math.max(0, this.points - (v.seen + v.inflight + v.pending));
      return { allowed: total.points <= this.points, remaining, msBeforeReset: v.expire - now };
    }
    this.unreachable = true;
    const reason = answer
      ? (answer.value as { err: unknown }).err
      : new Error(`the rate-limit round trip took longer than ${this.maxWaitMs} ms`);
    if (answer || !current()) return this.decideLocally(this.viewOf(id, now), now, reason);
    // Still on its way, this request's point already sits in `inflight`: it fits if the total does.
    this.onLocalDecision(reason);
    const taken = w.seen + w.inflight + w.pending;
    admittedMeanwhile = taken <= this.points;
    return { allowed: admittedMeanwhile, remaining: Math.max(0, this.points - taken), msBeforeReset: w.expire - now };
  }

  private reachable(): void {
    this.unreachable = false;
    this.failingSince = null;
  }

  private failed(): void {
    this.unreachable = true;
    this.failingSince ??= Date.now();
  }

  /** Folds a total from the database into this process's view; answers can arrive out of order. */
  private record(total: RateLimitTotal, now: number): Window {
    const w = this.windows.get(total.key);
    if (!w || w.provisional || total.expire > w.expire) {
      // A new window (ours or one another process started): what we hadn't sent still counts in it.
      const fresh: Window = {
        expire: total.expire,
        seen: total.points,
        inflight: 0,
        pending: w?.pending ?? 0,
        syncedAt: now,
        refreshing: null,
      };
      this.windows.set(total.key, fresh);
      return fresh;
    }
    if (total.expire === w.expire) {
      w.seen = Math.max(w.seen, total.points);
      w.syncedAt = Math.max(w.syncedAt, now);
    }
    return w;
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
    if (!(this.db.client as { pool?: unknown }).pool) return void this.windows.clear();
    const sent: [string, Window, number][] = [];
    for (const [id, w] of this.windows) {
      if (w.pending === 0) continue;
      sent.push([id, w, w.pending]);
      w.inflight += w.pending;
      w.pending = 0;
    }
    if (sent.length === 0) return this.prune(now);
    this.flushing = true;
    try {
      const op = addRateLimitPoints(
        this.db,
        sent.map(([key, , points]) => ({ key, points })),
        this.durationMs,
        now,
      );
      for (const [, w] of sent) this.refreshBy(w, op);
      const totals = await op;
      for (const [id, w, n] of sent) if (this.windows.get(id) === w) w.inflight -= n;
      this.reachable();
      for (const t of totals) this.record(t, now);
    } catch {
      this.failed();
      const keep = now - this.failingSince! < GIVE_UP_AFTER_MS;
      for (const [id, w, n] of sent) {
        if (this.windows.get(id) !== w) continue;
        w.inflight -= n;
        // Past the give-up point the counts stop being sent but still count here.
        if (keep) w.pending += n;
        else w.seen += n;
      }
    } finally {
      this.flushing = false;
    }
    this.prune(Date.now());
    if ([...this.windows.values()].some((w) => w.pending > 0)) this.scheduleFlush();
  }

  private prune(now: number): void {
    for (const [id, w] of this.windows) if (w.expire <= now && w.inflight === 0) this.windows.delete(id);
  }
}
