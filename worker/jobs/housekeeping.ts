import type { Db } from "../../db/connection.js";
import { takeExpiredFiles } from "../../db/queries/files.js";
import { IDEMPOTENCY_TTL_HOURS, purgeExpired } from "../../db/queries/idempotency.js";
import { purgeExpiredRateLimits } from "../../db/queries/rate-limits.js";
import { purgeOldIntents } from "../../db/queries/submit-attempts.js";
import type { ArtifactStore } from "../../server/files/artifact-store.js";
import type { Logger } from "../../server/logger.js";

export async function purgeHousekeeping(db: Db, artifacts: ArtifactStore, log: Logger): Promise<void> {
  const idempotency = await purgeExpired(db, IDEMPOTENCY_TTL_HOURS);
  const rateLimits = await purgeExpiredRateLimits(db);
  const files = await purgeExpiredFiles(db, artifacts, log);
  const intents = await purgeOldIntents(db);
  log.info({ idempotency, rate_limits: rateLimits, expired_files: files, submit_intents: intents }, "housekeeping purge");
}

/**
 * Files past their `expires_at` (already invisible to every reader) lose their items and bytes. An
 * uploaded manifest's object goes with it; a batch's output files stay, as a user delete leaves
 * them (the batch's own artifact links serve those objects).
 */
export async function purgeExpiredFiles(db: Db, artifacts: ArtifactStore, log: Logger): Promise<number> {
  let purged = 0;
  for (;;) {
    const taken = await takeExpiredFiles(db, 100);
    for (const f of taken) {
      if (f.purpose !== "batch") continue;
      await artifacts.delete(f.storage_key).catch((err) => log.error({ err, file_id: f.id }, "could not delete an expired file's object"));
    }
    purged += taken.length;
    if (taken.length < 100) return purged;
  }
}
