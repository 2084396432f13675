import type { PgBoss } from "pg-boss";
import type { Db } from "../../db/connection.js";
import { BOSS_SCHEMA } from "../../server/jobs/boss.js";

/**
 * What pg-boss does for a job whose worker died, compressed into one call: once the job's expiry has
 * passed, a supervisor's expiry sweep fails it and pg-boss retries it (with the queue's backoff). The
 * queues' expiries are minutes long (server/jobs/contracts.ts), so this ages every active job past
 * its expiry and runs that sweep now instead of sitting the wait out.
 *
 * pg-boss 12 sweeps expired jobs in its *monitor* pass, and a queue takes part in a pass only when its
 * monitor claim (`queue.monitor_claim_on`) is at least `monitorIntervalSeconds` old (plans.js,
 * trySetQueueMonitorTime) — `supervise()` honours that claim like the background timer does. So a
 * `supervise()` within a minute of the previous one (the worker-kill chaos test calls this after each
 * of 20 kills, seconds apart) expired nothing: the dead workers' jobs stayed active, the batch stalled
 * for the rest of the kills, and it then ran out of time. The claims are aged here too, for the same
 * reason the jobs are: the interval has "passed".
 *
 * Only call this when no live worker holds active jobs. Answers how many jobs it expired; throws if
 * any job is still active afterwards, so a pg-boss change that skips the sweep fails here, loudly,
 * rather than as a slow batch somewhere downstream.
 */
export async function expireDeadWorkersJobs(db: Db, boss: PgBoss): Promise<number> {
  const aged = await db
    .withSchema(BOSS_SCHEMA)
    .from("job")
    .where({ state: "active" })
    .update({ started_on: db.raw("now() - make_interval(secs => expire_seconds + 1)") });
  await db
    .withSchema(BOSS_SCHEMA)
    .from("queue")
    .update({ monitor_claim_on: db.raw("now() - interval '1 day'") });
  await boss.supervise();
  const [{ n }] = await db.withSchema(BOSS_SCHEMA).from("job").where({ state: "active" }).count("* as n");
  if (Number(n) > 0) throw new Error(`pg-boss's expiry sweep left ${n} of ${aged} dead worker's jobs active`);
  return aged;
}
