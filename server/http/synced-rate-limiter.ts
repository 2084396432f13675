import type { Db } from "../../db/connection.js";
import { addRateLimitPoints, type RateLimitTotal } from "../../db/queries/rate-limits.js";

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
}

export const DEFAULT_SYNC_INTERVAL_MS = 100;
const DEFAULT_EXACT_TAIL = 50;
/** Counts that can't reach the database for this long are dropped, so memory stays bounded in an outage. */
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
 */
export class SyncedRateLimiter {
  readonly points: number;
  private readonly prefix: string;
  private readonly durationMs: number;
  private readonly intervalMs: number;
  private readonly exactTail: number;
  private readonly staleAfterMs: number;
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;
  private failingSince: number | null = null;

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
  }

  /** Takes one point for `key`, or refuses when its window is spent. Throws only if the database fails. */
  async consume(key: string): Promise<LimitDecision> {
    const id = `${this.prefix}:${key}`;
    const now = Date.now();
    if (this.windows.size > PRUNE_ABOVE) this.prune(now);
    let w = this.windows.get(id);
    if (w && w.expire <= now) {
      this.windows.delete(id);
      w = undefined;
    }
    if (w) {
      const taken = w.seen + w.inflight + w.pending;
      if (taken >= this.points) return { allowed: false, remaining: 0, msBeforeReset: w.expire - now };
      if (taken + 1 <= this.points - this.exactTail) {
        if (now - w.syncedAt <= this.staleAfterMs) {
          w.pending++;
          this.scheduleFlush();
          return { allowed: true, remaining: this.points - taken - 1, msBeforeReset: w.expire - now };
        }
        // A stale view: decide on the fresh one a round trip under way brings, rather than each
        // request going to the row itself (the hot row this class exists to avoid).
        if (w.refreshing) {
          await w.refreshing;
          return this.consume(key);
        }
      }
    }
    return this.consumeInDatabase(id, now);
  }

  /** Marks `w` as being refreshed by `op` (unless something else already is). */
  private refreshBy(w: Window | undefined, op: Promise<unknown>): void {
    if (!w || w.refreshing) return;
    const settled = op.then(
      () => undefined,
      () => undefined,
    );
    w.refreshing = settled;
    void settled.then(() => {
      if (w.refreshing === settled) w.refreshing = null;
    });
  }

  /** One atomic upsert for this request, carrying the points taken here and not yet sent. */
  private async consumeInDatabase(id: string, now: number): Promise<LimitDecision> {
    const before = this.windows.get(id);
    const carried = before ? before.pending : 0;
    if (before) {
      before.pending = 0;
      before.inflight += carried + 1;
    }
    let total: RateLimitTotal | undefined;
    try {
      const op = addRateLimitPoints(this.db, [{ key: id, points: carried + 1 }], this.durationMs, now);
      this.refreshBy(before, op);
      [total] = await op;
    } catch (e) {
      if (before && this.windows.get(id) === before) {
        before.inflight -= carried + 1;
        before.pending += carried;
      }
      throw e;
    }
    if (before && this.windows.get(id) === before) before.inflight -= carried + 1;
    const w = this.record(total!, now);
    return {
      allowed: total!.points <= this.points,
      remaining: Math.max(0, this.points - (w.seen + w.inflight + w.pending)),
      msBeforeReset: w.expire - now,
    };
  }

  /** Folds a total from the database into this process's view; answers can arrive out of order. */
  private record(total: RateLimitTotal, now: number): Window {
    const w = this.windows.get(total.key);
    if (!w || total.expire > w.expire) {
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
    if (this.timer) return;
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
      for (const t of totals) this.record(t, now);
      this.failingSince = null;
    } catch {
      this.failingSince ??= now;
      const keep = now - this.failingSince < GIVE_UP_AFTER_MS;
      for (const [id, w, n] of sent) {
        if (this.windows.get(id) !== w) continue;
        w.inflight -= n;
        if (keep) w.pending += n;
      }
    }
    this.prune(Date.now());
    if ([...this.windows.values()].some((w) => w.pending > 0)) this.scheduleFlush();
  }

  private prune(now: number): void {
    for (const [id, w] of this.windows) if (w.expire <= now && w.inflight === 0) this.windows.delete(id);
  }
}
