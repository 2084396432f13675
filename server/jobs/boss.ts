import PgBoss from "pg-boss";
import type { Db } from "../../db/connection.js";

export const BOSS_SCHEMA = "pgboss";

export const sql = {
  /** Readiness: the queue's tables exist and answer. */
  queueReady: `SELECT 1 FROM ${BOSS_SCHEMA}.version`,
};

export interface BossOptions {
  /** Run maintenance and cron scheduling in this process (worker role). */
  supervise: boolean;
}

/**
 * A pg-boss instance on the platform database. API processes only send; worker processes also
 * supervise (maintenance, cron), and pg-boss distributes jobs across them with SKIP LOCKED.
 */
export function createBoss(url: string, opts: BossOptions): PgBoss {
  return new PgBoss({
    connectionString: url,
    schema: BOSS_SCHEMA,
    max: 5,
    supervise: opts.supervise,
    schedule: opts.supervise,
    // Maintenance is what returns an expired job (a dead worker's) to the queue; every 30 s
    // keeps crash recovery within a minute or two of the queue's expiry.
    maintenanceIntervalSeconds: 30,
    migrate: true,
  });
}

/**
 * A pg-boss `db` that runs on a knex transaction, so a job is enqueued in the same transaction as
 * the rows it acts on: both commit or neither does.
 */
export function bossDbFor(trx: Db): PgBoss.Db {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      // pg-boss writes $1..$n (possibly repeating one); knex raw wants one `?` per binding in order.
      const bindings: unknown[] = [];
      const rewritten = text.replace(/\?/g, "\\?").replace(/\$(\d+)/g, (_, n: string) => {
        bindings.push(values[Number(n) - 1] ?? null); // pg-boss passes undefined for unset options
        return "?";
      });
      const result = await trx.raw(rewritten, bindings as never[]);
      return { rows: result.rows };
    },
  };
}
