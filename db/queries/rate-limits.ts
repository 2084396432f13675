import type { Db } from "../connection.js";

/** Deletes the rate-limit counters whose window has ended (`expire` is epoch milliseconds). */
export async function purgeExpiredRateLimits(db: Db, now = Date.now()): Promise<number> {
  return db("rate_limits").where("expire", "<", now).delete();
}
