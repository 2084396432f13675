import { type Db as BossDb, fromKnex, PgBoss } from "pg-boss";
import type { Db } from "../../db/connection.js";

export const BOSS_SCHEMA = "pgboss";

export const sql = {
  /** Readiness: the queue's tables exist and answer. */
  queueReady: `SELECT 1 FROM ${BOSS_SCHEMA}.version`,
};

/** How often a worker's pg-boss sweeps expired jobs (see createBoss). */
const EXPIRY_SWEEP_SECONDS = 30;

export interface BossOptions {
  /** Run maintenance and cron scheduling in this process (worker role). */
  supervise: boolean;
}

/**
 * A pg-boss instance on the platform database. API processes only send; worker processes also
 * supervise (maintenance, cron), and pg-boss distributes jobs across them with SKIP LOCKED.
 */
export function createBoss(url: string, opts: BossOptions): PgBoss {
  const boss = new PgBoss({
    connectionString: url,
    schema: BOSS_SCHEMA,
    max: 5,
    supervise: opts.supervise,
    schedule: opts.supervise,
    // What returns an expired job (a dead worker's) to the queue is the expiry sweep, which pg-boss
    // 12 runs in its monitor pass: a supervise tick (superviseIntervalSeconds) that finds a queue's
    // monitor claim monitorIntervalSeconds old. Both default to 60 s; 30 s keeps crash recovery
    // within half a minute of the queue's expiry, as pg-boss 10's 30 s maintenance did.
    // (maintenanceIntervalSeconds, which ran expiry in 10, only drives the retention sweep in 12.)
    superviseIntervalSeconds: EXPIRY_SWEEP_SECONDS,
    monitorIntervalSeconds: EXPIRY_SWEEP_SECONDS,
    maintenanceIntervalSeconds: 30,
    migrate: true,
  });
  waitOutLostConnections(boss);
  return boss;
}

// What a PostgreSQL restart or failover looks like to a client: refused or reset connections,
// "terminating connection due to administrator command" (57P01), "the database system is starting up"
// (57P03), the connection-exception class (08…), or pg's own "Connection terminated".
const CONNECTION_LOST = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"]);
const connectionLost = (err: unknown) => {
  const e = err as { code?: string; message?: string } | null;
  return CONNECTION_LOST.has(e?.code ?? "") || /Connection terminated/.test(e?.message ?? "");
};
/** How long one statement waits for the database to come back before its error surfaces. */
const RECONNECT_WINDOW_MS = 120_000;

/**
 * pg-boss 10 settled each job it ran with complete() or fail() without awaiting them (src/manager.js,
 * watch → onFetch). If PostgreSQL is restarting at that moment the rejection is unhandled and Node ends
 * the worker process; and even a worker that survives leaves the job `active` until its expiry
 * (minutes) hands it out again, stalling the batch. So every statement of the queue waits out a lost
 * connection: it is retried with backoff until the server answers (within RECONNECT_WINDOW_MS), and
 * only then does the error surface as before. A retry is safe: pg-boss's statements are single
 * autocommit statements, so one cut off mid-way was rolled back (complete and fail are idempotent
 * anyway, a lost fetch's answer leaves its jobs to expiry, and the batch steps' queues drop a
 * duplicate send by singleton key).
 */
function waitOutLostConnections(boss: PgBoss): void {
  const db = boss.getDb();
  const execute = db.executeSql.bind(db);
  let stopped = false;
  boss.on("stopped", () => {
    stopped = true;
  });
  db.executeSql = async (text, values) => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await execute(text, values);
      } catch (err) {
        if (stopped || !connectionLost(err) || Date.now() - started > RECONNECT_WINDOW_MS) throw err;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  };
}

/**
 * A pg-boss `db` that runs on a knex transaction, so a job is enqueued in the same transaction as
 * the rows it acts on: both commit or neither does. pg-boss 12 ships the adapter (`fromKnex`: it
 * rewrites pg-boss's $n placeholders into knex bindings, as our own helper did for 10).
 */
export function bossDbFor(trx: Db): BossDb {
  const db = fromKnex(trx);
  // knex refuses an undefined binding, and pg-boss passes undefined for options left unset.
  return {
    executeSql: (text, values) =>
      db.executeSql(
        text,
        values?.map((v) => v ?? null),
      ),
  };
}
