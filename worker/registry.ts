import type PgBoss from "pg-boss";
import type { Db } from "../db/connection.js";
import { housekeeping } from "../server/jobs/housekeeping.js";
import type { Logger } from "../server/logger.js";
import { purgeHousekeeping } from "./jobs/housekeeping.js";

export interface WorkerDeps {
  db: Db;
  boss: PgBoss;
  logger: Logger;
}

/** The explicit list of queues this worker serves, and their handlers. */
export async function startWorker(deps: WorkerDeps): Promise<void> {
  await deps.boss.createQueue(housekeeping.name);
  await deps.boss.schedule(housekeeping.name, housekeeping.cron, {});
  await deps.boss.work(housekeeping.name, async () => {
    await purgeHousekeeping(deps.db, deps.logger.child({ job: housekeeping.name }));
  });
}
