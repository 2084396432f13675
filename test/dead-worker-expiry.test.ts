import type { PgBoss } from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBoss } from "../server/jobs/boss.js";
import { JOBS } from "../server/jobs/contracts.js";
import { createQueues } from "../server/jobs/sender.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { expireDeadWorkersJobs } from "./helpers/dead-workers.js";

// The mechanism behind the pg-boss 12 revert (3b1511b), without the chaos: the worker-kill chaos
// test kills a worker every few seconds and after each kill hands the dead worker's jobs back with
// expireDeadWorkersJobs. Under pg-boss 12 only the first of those calls in any minute did anything
// (supervise() sweeps expired jobs only for queues whose monitor claim is due), so the batch's
// wu.poll / wu.submit jobs stayed `active` on dead workers through the kills and the batch ran out
// of time. Here one job is claimed and "dies" with its worker, again and again.

let database: TestDatabase;
let boss: PgBoss;
const POLL = JOBS.poll.name;

beforeAll(async () => {
  database = await createTestDatabase();
  boss = createBoss(database.url, { supervise: false });
  boss.on("error", () => undefined);
  await boss.start();
  await createQueues(boss);
});
afterAll(async () => {
  await boss?.stop({ graceful: false });
  await database?.drop();
});

/** A worker claims job `id` (a retry's backoff brought forward) and is killed: it is never settled. */
async function claimAndDie(id: string): Promise<void> {
  const db = database.db;
  await db
    .withSchema("pgboss")
    .from("job")
    .where({ id })
    .update({ start_after: db.raw("now()") });
  const [job] = await boss.fetch(POLL);
  expect(job?.id).toBe(id);
}

const stateOf = async (id: string) =>
  (await database.db.withSchema("pgboss").from("job").where({ id }).first("state", "retry_count")) as {
    state: string;
    retry_count: number;
  };

describe("a dead worker's job", () => {
  it("is handed back by every expiry, not only the first in a monitor interval", async () => {
    const id = await boss.send(POLL, { work_unit_id: "wu_dead_worker" }, { singletonKey: "wu_dead_worker" });
    expect(id).toBeTruthy();

    for (let kill = 1; kill <= 4; kill++) {
      await claimAndDie(id!);
      expect(await expireDeadWorkersJobs(database.db, boss)).toBe(1);
      // Back in the queue for the next worker, one attempt used per claim (retryLimit 5).
      expect(await stateOf(id!)).toEqual({ state: "retry", retry_count: kill - 1 });
    }
  });

  it("is not handed back by a bare supervise() right after another one (why the helper ages the claims)", async () => {
    const db = database.db;
    const id = await boss.send(POLL, { work_unit_id: "wu_bare" }, { singletonKey: "wu_bare" });
    await claimAndDie(id!);
    // A first pass claims the queues (nothing has expired yet)…
    await boss.supervise();
    await db
      .withSchema("pgboss")
      .from("job")
      .where({ id })
      .update({ started_on: db.raw("now() - make_interval(secs => expire_seconds + 1)") });
    // …so this one, moments later, is refused the claim and sweeps nothing, though the job has expired.
    await boss.supervise();
    expect((await stateOf(id!)).state).toBe("active");
  });
});
