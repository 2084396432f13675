import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { expireDeadWorkersJobs } from "./helpers/dead-workers.js";
import { runTs, waitForOutput, type Running } from "./helpers/process.js";
import { registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

let database: TestDatabase;
let srv: TestServer;
const workers: Running[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  // The API in this process, with no worker: the batch runs only in the child processes.
  srv = await startTestServer({}, { database });
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await Promise.all(workers.map((w) => w.exited));
  await srv?.close();
  await database?.drop();
});

const MINI = "openai/gpt-4o-mini/us/batch";

async function startWorker() {
  const w = runTs("server/main.ts", ["--role=worker"], {
    DATABASE_URL: database.url,
    // Same data directory as the API: the platform secret and the artifact files live there.
    BATCHROUTER_DATA_DIR: srv.dataDir,
    BATCHROUTER_SIMULATOR_TURNAROUND_MS: "1500",
    BATCHROUTER_SIMULATOR: JSON.stringify({
      laneTurnaroundMs: { "anthropic/*": 5000 },
      faults: { "*": { server_error: 0.1, rate_limit: 0.03 } },
    }),
    BATCHROUTER_RETRY_BASE_MS: "50",
    LOG_LEVEL: "info",
  });
  workers.push(w);
  await waitForOutput(w, /BatchRouter worker is up/, 60_000);
  return w;
}

describe("a worker killed with SIGKILL mid-batch", () => {
  it("is restarted, and every one of 2,000 items ends with exactly one result, billed exactly once", async () => {
    const db = database.db;
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = [...makeItems(1800, { prefix: "mini" }), ...makeItems(200, { prefix: "haiku", model: "claude-haiku-4" })];

    const first = await startWorker();
    const batch = await mustCreate(srv.base, key, { items });

    // Kill it as soon as results start landing: the mini unit's 1,800 results are written in two
    // chunks, so this is usually between them, with the haiku unit still at its provider.
    const atKill = await waitFor(
      async () => {
        const rows = await db("batch_items")
          .where({ batch_id: batch.id })
          .whereIn("status", ["completed", "failed", "retry"])
          .count("* as n");
        const n = Number(rows[0]!.n);
        if (n === 0) return undefined;
        first.child.kill("SIGKILL");
        return n;
      },
      30_000,
      "the first results",
    );
    await first.exited;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(2000);
    const ledgerAtKill = await db("ledger_entries").where({ batch_id: batch.id }).select("kind", "reserved_delta");

    // pg-boss gives a dead worker's active jobs back only once their expiry (minutes) has passed and
    // a supervisor's expiry sweep has run: compress that wait rather than sit it out.
    await expireDeadWorkersJobs(db, srv.platform.boss);

    await startWorker();
    const done = await untilTerminal(srv.base, key, batch.id, 45_000);
    expect(done.status).toBe("completed");

    // Exactly one result per item, in manifest order.
    const results = await allResults(srv.base, key, batch.id);
    expect(results.map((r) => r.customer_item_id)).toEqual(items.map((i) => i.customer_item_id));
    const completed = results.filter((r) => r.status === "completed");
    expect(done.batch.counts).toMatchObject({
      total: 2000,
      completed: completed.length,
      failed: 2000 - completed.length,
      queued: 0,
      processing: 0,
    });
    expect(completed.length).toBeGreaterThanOrEqual(1990);

    // Billed once: each settlement posting is unique, and together they are the item costs plus fee.
    const money = await expectBatchSettled(db, batch.id);
    expect(money.itemCosts).toBe(completed.reduce((s, r) => s + micros(r.cost), 0));
    const keys = await db("ledger_entries").where({ batch_id: batch.id }).pluck("posting_key");
    expect(new Set(keys).size).toBe(keys.length);
    // What was settled before the kill still stands (postings are never undone or repeated).
    const settledAtKill = ledgerAtKill
      .filter((e: any) => e.kind === "settlement")
      .reduce((s: number, e: any) => s - Number(e.reserved_delta), 0);
    expect(money.settled).toBeGreaterThanOrEqual(settledAtKill);
    await expectLedgerBalanced(db, agent.org_id, "test");

    // The files agree with the results.
    const units = await db("work_units").where({ batch_id: batch.id });
    expect(units.filter((u: any) => ["pending", "submitted"].includes(u.status))).toEqual([]);
    expect(units.some((u: any) => u.lane_id === MINI)).toBe(true);
  }, 90_000);
});
