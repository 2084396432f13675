import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchWorkerDeps } from "../worker/batch-context.js";
import { reviveStaleBatches } from "../worker/jobs/revive-batches.js";
import { expectBatchSettled, expectLedgerBalanced } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

let api: TestServer;
let worker: TestServer;
beforeAll(async () => {
  api = await startTestServer();
});
afterAll(async () => {
  await worker?.close();
  await api?.close();
});

describe("stale batches", () => {
  it("are revived when their pipeline jobs were lost: the batch still finishes, billed once", async () => {
    const agent = await registerAgent(api.base);
    const key = agent.test_api_key;
    const items = Array.from({ length: 5 }, (_, i) => ({
      customer_item_id: `r${i}`,
      model: "gpt-4o-mini",
      input: { messages: [{ role: "user", content: `hello ${i}` }] },
    }));
    const created = await call(api.base, "POST", "/v1/batches", {
      key,
      body: { items },
      headers: { "Idempotency-Key": "revive-batch-01" },
    });
    expect(created.status).toBe(202);
    const id = created.body.batch.id;
    // Lose every queued step of the pipeline (as if it had failed past its retries), and age the batch.
    const db = api.database.db;
    const lost = await db.raw(
      "DELETE FROM pgboss.job WHERE name IN ('batch.dispatch', 'wu.submit', 'wu.poll', 'batch.finalize') RETURNING id",
    );
    expect(lost.rows.length).toBeGreaterThan(0);
    await db("batches")
      .where({ id })
      .update({ updated_at: db.raw("now() - interval '1 hour'") });

    worker = await startTestServer({}, { database: api.database, worker: true });
    // Without the sweep nothing would move: the batch stays pending.
    expect((await call(api.base, "GET", `/v1/batches/${id}`, { key })).body.status).toBe("pending");
    const d = worker.platform.appDeps;
    const revived = await reviveStaleBatches({ db: d.db, jobs: d.jobs, logger: d.logger } as unknown as BatchWorkerDeps);
    expect(revived).toBe(1);
    const done = await waitFor(
      async () => {
        const res = await call(api.base, "GET", `/v1/batches/${id}`, { key });
        return res.body.status === "completed" ? res.body : undefined;
      },
      30_000,
      "revived batch to complete",
    );
    expect(done.batch.counts).toMatchObject({ completed: 5, queued: 0, processing: 0 });
    // Billed once. Each posting key of the batch appears once; since the table's unique key already
    // forbids a repeat, what would catch the revived run billing the same items under a second key
    // is the settlement check: one reservation, settlements equal to the item costs plus fee, the
    // reservation closed — and the cached balance agreeing with the entries.
    const postings = await db("ledger_entries")
      .where({ batch_id: id })
      .groupBy("posting_key")
      .select("posting_key", db.raw("count(*)::int AS n"));
    expect(postings.length).toBeGreaterThan(0);
    expect(postings.filter((p: { n: number }) => p.n !== 1)).toEqual([]);
    const money = await expectBatchSettled(db, id);
    expect(money.entries.map((e: { kind: string }) => e.kind)).toContain("settlement");
    expect(Number(money.batch.settled_provider_micros)).toBe(money.itemCosts);
    await expectLedgerBalanced(db, agent.org_id, "test");
    expect(await reviveStaleBatches({ db: d.db, jobs: d.jobs, logger: d.logger } as unknown as BatchWorkerDeps)).toBe(0);
  });
});
