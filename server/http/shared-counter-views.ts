import type { RateLimitTotal } from "../../db/queries/rate-limits.js";

/** One shared counter (a `rate_limits` row) as this process sees it. */
export interface CounterView {
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

/** Points taken here and sent in one flush: whose view they came from, and how many. */
export type SentPoints = [key: string, view: CounterView, points: number];

/** Points taken by this process in `view` (seen, on their way, or not yet sent). */
export const taken = (view: CounterView): number => view.seen + view.inflight + view.pending;

/** Marks `view` as being refreshed by `op` (unless something else already is). */
export function refreshBy(view: CounterView, op: Promise<unknown>): void {
  if (view.refreshing) return;
  const settled = op.then(
    () => undefined,
    () => undefined,
  );
  view.refreshing = settled;
  void settled.then(() => {
    if (view.refreshing === settled) view.refreshing = null;
  });
}

/**
 * This process's view of each shared counter one limiter has touched: what SyncedRateLimiter decides
 * from, folded together with the totals the database answers. Views are found by the limiter's own
 * key (an address, a key id) — the row's key, `prefix:key`, is built only to talk to the database,
 * not on every request. A view is replaced (not updated) when its window ends, so code holding an old
 * one checks `isCurrent` before changing it.
 */
export class SharedCounterViews {
  private readonly views = new Map<string, CounterView>();
  private readonly prefix: string;

  constructor(
    keyPrefix: string,
    private readonly durationMs: number,
  ) {
    this.prefix = `${keyPrefix}:`;
  }

  /** The `rate_limits` row of `key`. */
  rowKey(key: string): string {
    return this.prefix + key;
  }

  get size(): number {
    return this.views.size;
  }

  get(key: string): CounterView | undefined {
    return this.views.get(key);
  }

  /** The view of `key` whose window is still open, if any (an ended one is dropped). */
  current(key: string, now: number): CounterView | undefined {
    const view = this.views.get(key);
    if (!view || view.expire > now) return view;
    this.views.delete(key);
    return undefined;
  }

  isCurrent(key: string, view: CounterView): boolean {
    return this.views.get(key) === view;
  }

  /** The view of `key`, or one opened here while the database can't tell; `record` replaces it once it can. */
  viewOf(key: string, now: number): CounterView {
    const known = this.views.get(key);
    if (known) return known;
    const view: CounterView = {
      expire: now + this.durationMs,
      seen: 0,
      inflight: 0,
      pending: 0,
      syncedAt: 0,
      refreshing: null,
      provisional: true,
    };
    this.views.set(key, view);
    return view;
  }

  /** Folds a total from the database (a row of this limiter's) into the view; answers can arrive out of order. */
  record(total: RateLimitTotal, now: number): CounterView {
    const key = total.key.slice(this.prefix.length);
    const view = this.views.get(key);
    if (!view || view.provisional || total.expire > view.expire) {
      // A new window (ours or one another process started): what we hadn't sent still counts in it.
      const fresh: CounterView = {
        expire: total.expire,
        seen: total.points,
        inflight: 0,
        pending: view?.pending ?? 0,
        syncedAt: now,
        refreshing: null,
      };
      this.views.set(key, fresh);
      return fresh;
    }
    if (total.expire === view.expire) {
      view.seen = Math.max(view.seen, total.points);
      view.syncedAt = Math.max(view.syncedAt, now);
    }
    return view;
  }

  /** Moves every view's unsent points to in flight: what one flush sends. */
  takePending(): SentPoints[] {
    const sent: SentPoints[] = [];
    for (const [key, view] of this.views) {
      if (view.pending === 0) continue;
      sent.push([key, view, view.pending]);
      view.inflight += view.pending;
      view.pending = 0;
    }
    return sent;
  }

  /**
   * A flush's points are no longer in flight: counted in the totals it read back (`"sent"`), to be
   * sent again with the next flush (`"retry"`), or — past the point of giving up on the database —
   * counted here only (`"keep-local"`).
   */
  settle(sent: readonly SentPoints[], outcome: "sent" | "retry" | "keep-local"): void {
    for (const [key, view, points] of sent) {
      if (!this.isCurrent(key, view)) continue;
      view.inflight -= points;
      if (outcome === "retry") view.pending += points;
      else if (outcome === "keep-local") view.seen += points;
    }
  }

  hasPending(): boolean {
    for (const view of this.views.values()) if (view.pending > 0) return true;
    return false;
  }

  /** Drops the views whose window has ended, once nothing of theirs is in flight. */
  prune(now: number): void {
    for (const [key, view] of this.views) if (view.expire <= now && view.inflight === 0) this.views.delete(key);
  }

  clear(): void {
    this.views.clear();
  }
}
