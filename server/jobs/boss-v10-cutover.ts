import type { JobInsert, PgBoss } from "pg-boss";
import type { Db } from "../../db/connection.js";
import { BOSS_SCHEMA, bossDbFor } from "./boss.js";

/**
 * Upgrading a database from pg-boss 10 to 12. pg-boss 12 migrates its own schema only from version
 * 25 (pg-boss 11.0) on; 11.0 rewrote the schema without a migration, so a 10.x schema (version 24)
 * makes `start()` fail with "Cannot migrate pg-boss schema from version 24". (Checked: 10.4.2 then
 * 12.38.0 on one database.) So the old schema is moved aside before pg-boss starts, pg-boss 12
 * installs a fresh one under the usual name, and the old schema's unfinished jobs are copied in.
 * Queues and cron schedules need no copy: every process re-creates them at start.
 */
const OLD_SCHEMA = `${BOSS_SCHEMA}_v10`;
/** Serialises the cutover across processes starting together on one database. */
const LOCK_KEY = "batchrouter.pgboss-v10-cutover";
/** The last schema version of pg-boss 10. */
const V10_SCHEMA_VERSION = 24;

/** Before `boss.start()`: renames a pg-boss 10 schema out of the way. True when it did. */
export async function moveAsideV10Schema(db: Db): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext(?))", [LOCK_KEY]);
    const found = await trx.raw(`SELECT to_regclass('${BOSS_SCHEMA}.version') IS NOT NULL AS installed`);
    if (!found.rows[0].installed) return false;
    const v = await trx.raw(`SELECT version FROM ${BOSS_SCHEMA}.version`);
    if (Number(v.rows[0]?.version) > V10_SCHEMA_VERSION) return false;
    await trx.raw(`ALTER SCHEMA ${BOSS_SCHEMA} RENAME TO ${OLD_SCHEMA}`);
    return true;
  });
}

interface OldJob {
  id: string;
  name: string;
  data: object | null;
  priority: number;
  singleton_key: string | null;
  start_after: Date;
  retry_limit: number;
  retry_delay: number;
  retry_backoff: boolean;
  expire_seconds: number;
}

/**
 * After the queues exist: copies the old schema's unfinished jobs (created, retry, and active —
 * an active one's worker was a 10.x process, now gone) into pg-boss 12 with their ids, keys, start
 * times and retry settings, then drops the old schema, in one transaction so that two processes
 * can't both copy. Their retry counts restart at 0 (pg-boss's insert takes none). Answers how many.
 */
export async function carryOverV10Jobs(db: Db, boss: PgBoss): Promise<number> {
  return db.transaction(async (trx) => {
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext(?))", [LOCK_KEY]);
    const exists = await trx.raw(`SELECT to_regclass('${OLD_SCHEMA}.job') IS NOT NULL AS present`);
    if (!exists.rows[0].present) return 0;
    const old = await trx.raw(
      `SELECT id, name, data, priority, singleton_key, start_after, retry_limit, retry_delay, retry_backoff,
              extract(epoch FROM expire_in)::int AS expire_seconds
         FROM ${OLD_SCHEMA}.job WHERE state IN ('created', 'retry', 'active') ORDER BY created_on`,
    );
    const byQueue = new Map<string, JobInsert[]>();
    for (const j of old.rows as OldJob[]) {
      const jobs = byQueue.get(j.name) ?? [];
      jobs.push({
        id: j.id,
        data: j.data ?? {},
        priority: j.priority,
        singletonKey: j.singleton_key ?? undefined,
        startAfter: j.start_after,
        retryLimit: j.retry_limit,
        retryDelay: j.retry_delay,
        retryBackoff: j.retry_backoff,
        expireInSeconds: j.expire_seconds,
      });
      byQueue.set(j.name, jobs);
    }
    const known = new Set((await trx.raw(`SELECT name FROM ${BOSS_SCHEMA}.queue`)).rows.map((r: { name: string }) => r.name));
    for (const [name, jobs] of byQueue) {
      if (known.has(name)) await boss.insert(name, jobs, { db: bossDbFor(trx) });
    }
    await trx.raw(`DROP SCHEMA ${OLD_SCHEMA} CASCADE`);
    return old.rows.length;
  });
}
