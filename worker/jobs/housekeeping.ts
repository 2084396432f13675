import type { Db } from "../../db/connection.js";
import { IDEMPOTENCY_TTL_HOURS, purgeExpired } from "../../db/queries/idempotency.js";
import { purgeExpiredRateLimits } from "../../db/queries/rate-limits.js";
import type { Logger } from "../../server/logger.js";

export async function purgeHousekeeping(db: Db, log: Logger): Promise<void> {
  const idempotency = await purgeExpired(db, IDEMPOTENCY_TTL_HOURS);
  const rateLimits = await purgeExpiredRateLimits(db);
  log.info({ idempotency, rate_limits: rateLimits }, "housekeeping purge");
}
