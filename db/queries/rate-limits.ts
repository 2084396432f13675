import type { Db } from "../connection.js";

/** A counter's state after adding to it: points taken in its window, and when the window ends (epoch ms). */
export interface RateLimitTotal {
  key: string;
  points: number;
  expire: number;
}

/**
 * Adds `points` to each counter in one statement and returns the totals. A counter whose window has
 * ended (`expire <= now`) starts a new one of `durationMs` — the same row shape and window rule as
 * rate-limiter-flexible's RateLimiterPostgres used, so rows from either read alike and the purge job
 * still applies. Each row is locked once per call, however many requests `points` stands for.
 */
export async function addRateLimitPoints(
  db: Db,
  adds: readonly { key: string; points: number }[],
  durationMs: number,
  now = Date.now(),
): Promise<RateLimitTotal[]> {
  if (adds.length === 0) return [];
  // Sorted so two processes flushing overlapping keys lock them in the same order (no deadlock).
  const sorted = [...adds].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const { rows } = await db.raw<{ rows: { key: string; points: number; expire: string | number }[] }>(
    `INSERT INTO rate_limits AS r (key, points, expire)
       SELECT k, p, ?::bigint FROM unnest(?::text[], ?::int[]) AS t(k, p)
     ON CONFLICT (key) DO UPDATE SET
       points = CASE WHEN r.expire <= ?::bigint THEN excluded.points ELSE r.points + excluded.points END,
       expire = CASE WHEN r.expire <= ?::bigint THEN excluded.expire ELSE r.expire END
     RETURNING key, points, expire`,
    [now + durationMs, sorted.map((a) => a.key), sorted.map((a) => a.points), now, now],
  );
  return rows.map((r) => ({ key: r.key, points: r.points, expire: Number(r.expire) }));
}

/** Deletes the rate-limit counters whose window has ended (`expire` is epoch milliseconds). */
export async function purgeExpiredRateLimits(db: Db, now = Date.now()): Promise<number> {
  return db("rate_limits").where("expire", "<", now).delete();
}
