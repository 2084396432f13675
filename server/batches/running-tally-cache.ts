import type { ItemTally } from "../../db/queries/batch-view.js";

/** Batches with at least this many items have their running tally cached (below it, counting is cheap). */
export const TALLY_CACHE_MIN_ITEMS = 20_000;
/** How old a cached tally may be before a poll starts counting again (at least: see COUNT_SHARE). */
export const TALLY_TTL_MS = 1000;
/**
 * …and a tally is kept for at least this many times as long as counting it took, so the counts of a
 * huge running batch polled non-stop take at most ~1/11 of one database connection's time: a
 * million items take 0.5–1 s to count, so their counts move every 5–10 s. At 4× (a fifth of a
 * connection) the counting was ~15 % of the database's CPU over a 300,000-item run — taken from
 * the work being counted.
 */
const COUNT_SHARE = 10;
const MAX_ENTRIES = 1_000;

interface Entry {
  tally: ItemTally;
  at: number;
  /** How long the count took. */
  countMs: number;
  refreshing?: Promise<ItemTally>;
}

/**
 * The item tally (counts by status and lane) of large batches that are still running, shared by
 * every poll of this process. Counting a million items' statuses takes a few hundred ms; many
 * clients polling that batch would otherwise each pay it, and slow each other and the pipeline. A
 * tally older than TALLY_TTL_MS is refreshed by one count in the background while polls go on
 * answering the last one (stale-while-revalidate): counts lag the truth by a second or two (up to
 * eleven times a count's duration on the largest batches), and a poll never waits on a count once one exists. The batch row itself (status, totals) is
 * always read fresh, and a batch that has ended is counted fresh, so its final counts are exact.
 */
export class RunningTallyCache {
  private readonly entries = new Map<string, Entry>();

  async get(batchId: string, count: () => Promise<ItemTally>, now = Date.now()): Promise<ItemTally> {
    const e = this.entries.get(batchId);
    if (!e) return this.refresh(batchId, count);
    if (now - e.at >= Math.max(TALLY_TTL_MS, COUNT_SHARE * e.countMs) && !e.refreshing) {
      // A failed background count leaves the last tally in place; the next poll tries again.
      this.refresh(batchId, count).catch(() => undefined);
    }
    return e.tally;
  }

  has(batchId: string): boolean {
    return this.entries.has(batchId);
  }

  /** Keeps a tally counted along with the batch's row (its first poll). */
  seed(batchId: string, tally: ItemTally, now = Date.now(), countMs = 0): void {
    if (this.entries.size >= MAX_ENTRIES && !this.entries.has(batchId)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(batchId, { tally, at: now, countMs });
  }

  /** Forgets a batch (it ended: its tally is counted fresh from now on). */
  forget(batchId: string): void {
    this.entries.delete(batchId);
  }

  private refresh(batchId: string, count: () => Promise<ItemTally>): Promise<ItemTally> {
    const existing = this.entries.get(batchId);
    if (existing?.refreshing) return existing.refreshing;
    const started = Date.now();
    const refreshing = count().then(
      (tally) => {
        this.seed(batchId, tally, started, Date.now() - started);
        return tally;
      },
      (err: unknown) => {
        const e = this.entries.get(batchId);
        if (e) e.refreshing = undefined;
        throw err;
      },
    );
    if (existing) existing.refreshing = refreshing;
    return refreshing;
  }
}
