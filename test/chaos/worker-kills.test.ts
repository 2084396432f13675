import type { PgBoss } from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/connection.js";
import { BOSS_SCHEMA } from "../../server/jobs/boss.js";
import { makeItems, mustCreate, TERMINAL_STATES, untilTerminal } from "../helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { registerAgent } from "../helpers/server.js";
import { expireDeadWorkersJobs } from "../helpers/dead-workers.js";
import { Cluster, type PlatformProcess, testBoss } from "./helpers/cluster.js";
import { expectBatchWhole } from "./helpers/invariants.js";
import { chaosSeed, seededRandom } from "./helpers/seed.js";

// Issue 13 part 5: SIGKILL the worker at 20 random points of a 10,000-item simulator batch,
// restarting it each time. Whatever step each kill cuts off (dispatch, submit, poll, a results
// chunk half written, finalize), the batch must end with one result per item, billed once.

const KILLS = 20;
let database: TestDatabase;
let cluster: Cluster;
let boss: PgBoss;

beforeAll(async () => {
  database = await createTestDatabase();
  boss = await testBoss(database.url);
  cluster = await Cluster.create(database.url, {
    // Lanes finish at staggered times and 3 % of item attempts fail retryably, so follow-up work
    // units keep being submitted, polled and collected while the kills happen.
    BATCHROUTER_SIMULATOR: JSON.stringify({
      turnaroundMs: 3000,
      laneTurnaroundMs: { "anthropic/*": 9000, "google/*": 25000 },
      faults: { "*": { server_error: 0.02, rate_limit: 0.01 } },
    }),
  });
});
afterAll(async () => {
  await cluster?.close();
  await boss?.stop({ graceful: false });
  await database?.drop();
});

const MODELS = ["gpt-4o-mini", "gpt-4.1-nano", "claude-haiku-4", "gemini-2.5-flash", "llama-3.1-8b-instruct"];

describe("the worker SIGKILLed at 20 random points of a 10,000-item batch", () => {
  it("is restarted each time; every item ends with exactly one result, billed once, the balance equal to its ledger", async () => {
    const random = seededRandom(chaosSeed("worker kills"));
    const api = await cluster.start("api");
    const agent = await registerAgent(api.base);
    const key = agent.test_api_key;
    const items = MODELS.flatMap((model, m) => makeItems(2000, { prefix: `m${m}`, model }));
    const batch = await mustCreate(api.base, key, { items });
    const db = database.db;

    const kills: { after_ms: number; status: string; results: number; active_jobs: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      const worker: PlatformProcess = await cluster.start("worker");
      // A random moment of this worker's life: most land mid-step, some right after start-up.
      const afterMs = Math.round(100 + random() * 2400);
      await new Promise((r) => setTimeout(r, afterMs));
      // Every fifth kill waits for a job in flight first: the batch's steps are short now, and a run
      // of random moments can miss them all (seed 2711691999 did: no kill cut a job off).
      if (k % 5 === 4) await untilJobActive(db, 5000);
      await cluster.kill(worker);
      const row = await db("batches").where({ id: batch.id }).first("status");
      const [{ n }] = await db("batch_items").where({ batch_id: batch.id }).whereIn("status", ["completed", "failed"]).count("* as n");
      const recovered = await expireDeadWorkersJobs(db, boss);
      kills.push({ after_ms: afterMs, status: row.status, results: Number(n), active_jobs: recovered });
    }
    process.stdout.write(
      `[chaos] kills (ms after start, batch status, items ended, jobs cut off):\n${kills
        .map((x, i) => `  ${String(i + 1).padStart(2)}. ${x.after_ms} ms  ${x.status}  ${x.results}  ${x.active_jobs}`)
        .join("\n")}\n`,
    );

    await cluster.start("worker");
    const done = await untilTerminal(api.base, key, batch.id, 120_000).catch(async (err) => {
      // Where it stuck: the batch's open work units and items, and the queue's unfinished jobs.
      const units = await db("work_units").where({ batch_id: batch.id }).whereNot({ status: "collected" });
      const items = await db("batch_items")
        .where({ batch_id: batch.id })
        .whereNotIn("status", ["completed", "failed"])
        .groupBy("status", "work_unit_id")
        .select("status", "work_unit_id", db.raw("count(*)::int AS n"));
      const jobs = await db
        .withSchema("pgboss")
        .from("job")
        .whereNot({ state: "completed" })
        .select("name", "state", "retry_count", "data");
      throw new Error(
        `${(err as Error).message}\nopen units: ${JSON.stringify(units.map((u) => [u.id, u.status, u.item_count]))}\nopen items: ${JSON.stringify(items)}\njobs: ${JSON.stringify(jobs)}`,
      );
    });
    expect(done.status).toBe("completed");
    // The chaos was real: every kill found the batch still running, and some cut jobs off mid-run.
    expect(kills.filter((x) => TERMINAL_STATES.includes(x.status))).toEqual([]);
    expect(kills.filter((x) => x.active_jobs > 0).length).toBeGreaterThan(0);

    const { completed } = await expectBatchWhole({
      db,
      base: api.base,
      key,
      orgId: agent.org_id,
      environment: "test",
      batchId: batch.id,
      customerItemIds: items.map((i) => i.customer_item_id),
    });
    // Only retryable faults were injected, and they are retried: every item completes.
    expect(completed.length).toBe(10_000);
    expect(done.batch.counts).toMatchObject({ total: 10_000, completed: 10_000, failed: 0, queued: 0, processing: 0 });
    // The API process never went down with the workers.
    expect(cluster.alive()).toContain(api);
  }, 300_000);
});

/** Waits until some pg-boss job is active (a worker is mid-step), or `timeoutMs` passes. */
async function untilJobActive(db: Db, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await db.withSchema(BOSS_SCHEMA).from("job").where({ state: "active" }).first(db.raw("1 AS one"))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
