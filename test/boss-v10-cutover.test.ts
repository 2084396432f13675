import PgBossV10 from "pg-boss-v10";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS } from "../server/jobs/contracts.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { startTestServer } from "./helpers/server.js";

// A database last run by the pg-boss 10 release of BatchRouter: pg-boss 10.4.2 itself (an npm
// alias dev dependency) makes the schema and the jobs, exactly as that release did, and the current
// platform then starts on it (server/jobs/boss-v10-cutover.ts).
let database: TestDatabase;
const ids: Record<string, string> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  await database.db.raw("DROP SCHEMA pgboss CASCADE"); // the template's is pg-boss 12's
  const old = new PgBossV10({ connectionString: database.url, schema: "pgboss" });
  old.on("error", () => undefined);
  await old.start();
  for (const c of [JOBS.dispatch, JOBS.poll, JOBS.webhook]) await old.createQueue(c.name, { name: c.name, ...c.options });
  ids.dispatch = (await old.send(JOBS.dispatch.name, { batch_id: "batch_1" }, { singletonKey: "batch_1" }))!;
  ids.later = (await old.send(JOBS.webhook.name, { delivery_id: "evt_1", secret_sealed: "s" }, { startAfter: 3600 }))!;
  ids.poll = (await old.send(JOBS.poll.name, { work_unit_id: "wu_1" }, { singletonKey: "wu_1" }))!;
  await old.fetch(JOBS.poll.name); // active when its 10.x worker went away
  const done = (await old.send(JOBS.webhook.name, { delivery_id: "evt_2", secret_sealed: "s" }))!;
  await old.fetch(JOBS.webhook.name);
  await old.complete(JOBS.webhook.name, done);
  await old.stop({ graceful: false, wait: true });
}, 60_000);
afterAll(async () => database?.drop());

describe("a database from the pg-boss 10 release", () => {
  it("starts on pg-boss 12 with the unfinished jobs carried over and the old schema gone", async () => {
    // Two processes starting together: one moves the schema and copies, the other finds it done.
    const [a, b] = await Promise.all([startTestServer({}, { database }), startTestServer({}, { database })]);
    try {
      const { db } = database;
      expect(Number((await db.raw("SELECT version FROM pgboss.version")).rows[0].version)).toBeGreaterThan(24);
      expect((await db.raw("SELECT 1 FROM pg_namespace WHERE nspname = 'pgboss_v10'")).rows).toHaveLength(0);
      const jobs = await db.withSchema("pgboss").from("job").select("id", "name", "state", "singleton_key", "start_after", "retry_limit");
      expect(jobs.map((j) => j.id).sort()).toEqual([ids.dispatch, ids.later, ids.poll].sort());
      expect(jobs.every((j) => j.state === "created")).toBe(true);
      const later = jobs.find((j) => j.id === ids.later)!;
      expect(new Date(later.start_after).getTime()).toBeGreaterThan(Date.now() + 3_000_000);
      expect(later.retry_limit).toBe(JOBS.webhook.options.retryLimit);
      // The `short` policy still holds one queued step per key across the cutover.
      expect(await a.platform.boss.send(JOBS.dispatch.name, { batch_id: "batch_1" }, { singletonKey: "batch_1" })).toBeNull();
      const [fetched] = await b.platform.boss.fetch<{ batch_id: string }>(JOBS.dispatch.name);
      expect(fetched).toMatchObject({ id: ids.dispatch, data: { batch_id: "batch_1" } });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
