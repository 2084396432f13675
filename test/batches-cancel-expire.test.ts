import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { SimulatorGate } from "../worker/providers/simulator-gate.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

const MINI = "openai/gpt-4o-mini/us/batch";
const HAIKU = "anthropic/claude-haiku-4/us/batch";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer(
    {},
    {
      worker: {
        simulator: {
          // The mini lane takes a few seconds, so raced cancels land in every step; the haiku lane
          // answers at once; the nano lane outlasts the expire test; the gpt-4o lane refuses submits
          // with a 30 s Retry-After, so its items wait unsent.
          turnaroundMs: 4000,
          laneTurnaroundMs: { [HAIKU]: 0, "openai/gpt-4.1-nano/us/batch": 60_000 },
          faults: { "*/gpt-4o/*": { submit_error: "capacity" } },
        },
      },
    },
  );
});
afterAll(async () => srv?.close());

const batchRow = (id: string) => srv.database.db("batches").where({ id }).first();

/** Waits until no expire job of the batch that is due is still queued or running. */
function expireJobsDone(db: TestServer["database"]["db"], batchId: string, what: string) {
  return waitFor(
    async () => {
      const open = await db
        .withSchema("pgboss")
        .from("job")
        .where({ name: "batch.expire" })
        .whereRaw("data->>'batch_id' = ?", [batchId])
        .whereIn("state", ["created", "active", "retry"])
        .whereRaw("start_after < now()")
        .first();
      return open ? undefined : true;
    },
    10_000,
    what,
  );
}

describe("cancel", () => {
  it("mid-flight: finished items are kept and billed, those at the provider or unsent are cancelled and released", async () => {
    // The mini lane's provider job is held until the test releases it, so the cancel lands while
    // those items are certainly at the provider and unfinished: no turnaround to race.
    const gate = new SimulatorGate({ lanes: [MINI] });
    const own = await startTestServer(
      {},
      {
        worker: { simulator: { turnaroundMs: 0, faults: { "*/gpt-4o/*": { submit_error: "capacity" } }, hold: gate } },
      },
    );
    try {
      const db = own.database.db;
      const agent = await registerAgent(own.base);
      const key = agent.test_api_key;
      const items = [
        ...makeItems(40, { prefix: "mini" }),
        ...makeItems(10, { prefix: "haiku", model: "claude-haiku-4" }),
        ...makeItems(5, { prefix: "g4o", model: "gpt-4o" }),
      ];
      const batch = await mustCreate(own.base, key, { items });
      const unit = (lane: string) => db("work_units").where({ batch_id: batch.id }).where("lane_id", "like", lane).first();

      // Mid-flight: the haiku items are back, the mini items sit at the provider, and the gpt-4o
      // unit has been refused once (its next try is 30 s away).
      await waitFor(
        async () => {
          const [mini, haiku, g4o] = [await unit(MINI), await unit(HAIKU), await unit("%/gpt-4o/%")];
          return mini?.status === "submitted" && haiku?.status === "collected" && g4o?.status === "pending" && g4o.submit_failures >= 1
            ? true
            : undefined;
        },
        20_000,
        "the haiku unit collected, the mini unit at the provider and the gpt-4o unit refused",
      );
      const mid = await call(own.base, "GET", `/v1/batches/${batch.id}`, { key });
      expect(mid.body.status).toBe("processing");
      expect(mid.body.batch.counts).toMatchObject({ total: 55, completed: 10, processing: 40, queued: 5, failed: 0 });

      const cancel = await call(own.base, "POST", `/v1/batches/${batch.id}/cancel`, { key });
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ id: batch.id, status: "cancelling", state: "canceling" });
      // A second cancel while it winds down is harmless.
      expect((await call(own.base, "POST", `/v1/batches/${batch.id}/cancel`, { key })).status).toBe(200);
      // The worker told the provider; until the provider answers, the batch can't end.
      await waitFor(
        async () => ((await unit(MINI)).provider_ref.cancelled_at ? true : undefined),
        20_000,
        "the mini job's cancellation to be recorded",
      );
      expect((await db("batches").where({ id: batch.id }).first()).status).toBe("cancelling");

      gate.release();
      const done = await untilTerminal(own.base, key, batch.id);
      expect(done).toMatchObject({ status: "cancelled", state: "canceled" });
      expect(done.batch.cancelled_at).toBe(cancel.body.batch.cancelled_at);
      // Nothing of the held job had run when it was cancelled; the gpt-4o items never left.
      expect(done.batch.counts).toEqual({ total: 55, queued: 0, processing: 0, completed: 10, failed: 0, cancelled: 45, expired: 0 });

      const results = await allResults(own.base, key, batch.id);
      expect(results.map((r) => r.customer_item_id)).toEqual(items.map((i) => i.customer_item_id));
      for (const r of results) {
        if (r.customer_item_id.startsWith("haiku")) expect(r.status).toBe("completed");
        else expect(r).toMatchObject({ status: "failed", error: { code: "cancelled" }, cost: { amount: "0.000000" } });
      }
      expect(await allResults(own.base, key, batch.id, "status=failed")).toEqual(results.slice(0, 40).concat(results.slice(50)));

      const money = await expectBatchSettled(db, batch.id);
      expect(money.settled).toBeGreaterThan(0);
      expect(money.released).toBeGreaterThan(0);
      expect(money.itemCosts).toBe(results.reduce((s, r) => s + micros(r.cost), 0));
      const bill = (await call(own.base, "GET", `/v1/batches/${batch.id}/billing-receipt`, { key })).body;
      expect(bill.status).toBe("cancelled");
      expect(micros(bill.released)).toBe(money.released);
      expect(micros(bill.settled_total)).toBe(money.settled);
      expect((await call(own.base, "GET", `/v1/batches/${batch.id}/route-receipt`, { key })).body.events.map((e: any) => e.kind)).toContain(
        "cancelled",
      );
      await expectLedgerBalanced(db, agent.org_id, "test");

      // Terminal now: another cancel is refused.
      const again = await call(own.base, "POST", `/v1/batches/${batch.id}/cancel`, { key });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: "invalid_state", details: { status: "cancelled" } });
    } finally {
      gate.release(); // a failure above must not leave the worker polling a held job while it closes
      await own.close();
    }
  });

  it("before dispatch, and after completion (409 invalid_state)", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const quick = await mustCreate(srv.base, key, { items: makeItems(3, { prefix: "quick", model: "claude-haiku-4" }) });
    expect((await untilTerminal(srv.base, key, quick.id)).status).toBe("completed");
    const refused = await call(srv.base, "POST", `/v1/batches/${quick.id}/cancel`, { key });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "invalid_state", details: { status: "completed" } });
    expect((await batchRow(quick.id)).status).toBe("completed");

    const unsent = await mustCreate(srv.base, key, { items: makeItems(4, { prefix: "unsent", model: "gpt-4o" }) });
    const cancel = await call(srv.base, "POST", `/v1/batches/${unsent.id}/cancel`, { key });
    expect(cancel.status).toBe(200);
    const done = await untilTerminal(srv.base, key, unsent.id);
    expect(done.status).toBe("cancelled");
    expect(done.batch.counts).toMatchObject({ cancelled: 4, completed: 0 });
    const money = await expectBatchSettled(srv.database.db, unsent.id);
    expect(money.settled).toBe(0);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });

  it("racing the dispatcher: batches cancelled just after create all end, with nothing left open or held", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const db = srv.database.db;
    // Each cancel lands somewhere in dispatch → submit → poll; all must end, and none with a 500.
    const ids = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const b = await mustCreate(srv.base, key, { items: makeItems(3, { prefix: `race${i}` }) });
        await new Promise((r) => setTimeout(r, (i % 10) * 4));
        const res = await call(srv.base, "POST", `/v1/batches/${b.id}/cancel`, { key });
        expect([200, 409]).toContain(res.status);
        return b.id as string;
      }),
    );
    await waitFor(
      async () => {
        const open = await db("batches").whereIn("id", ids).whereNotIn("status", ["cancelled", "completed"]).first("id");
        return open ? undefined : true;
      },
      30_000,
      "every raced batch to end",
    );
    expect(await db("batch_items").whereIn("batch_id", ids).whereIn("status", ["queued", "processing", "retry"]).first()).toBeUndefined();
    expect(await db("work_units").whereIn("batch_id", ids).whereIn("status", ["pending", "submitted"]).first()).toBeUndefined();
    for (const id of ids) await expectBatchSettled(db, id);
    await expectLedgerBalanced(db, agent.org_id, "test");
  });
});

describe("expire", () => {
  it("past its SLA deadline: finished items kept and billed, the rest released, the service fee refunded", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = [
      ...makeItems(8, { prefix: "fast", model: "claude-haiku-4" }),
      ...makeItems(6, { prefix: "slow", model: "gpt-4.1-nano" }),
    ];
    const batch = await mustCreate(srv.base, key, { items });
    await waitFor(
      async () => {
        const res = await call(srv.base, "GET", `/v1/batches/${batch.id}`, { key });
        return res.body.batch.counts.completed === 8 && res.body.batch.counts.processing === 6 ? true : undefined;
      },
      20_000,
      "the fast half to finish",
    );
    const { jobs } = srv.platform.appDeps;
    const db = srv.database.db;

    // An early expire job (the deadline still ahead) changes nothing.
    await jobs.send(db, "expire", { batch_id: batch.id });
    await expireJobsDone(db, batch.id, "the early expire job to run");
    expect((await batchRow(batch.id)).status).toBe("processing");

    await db("batches")
      .where({ id: batch.id })
      .update({ sla_deadline: new Date(Date.now() - 1000) });
    await jobs.send(db, "expire", { batch_id: batch.id });
    const done = await untilTerminal(srv.base, key, batch.id);
    expect(done).toMatchObject({ status: "expired", state: "expired" });
    expect(done.batch.expired_at).not.toBeNull();
    expect(done.batch.error).toMatchObject({ code: "expired" });
    expect(done.batch.counts).toMatchObject({ total: 14, completed: 8, expired: 6, processing: 0, queued: 0 });

    const results = await allResults(srv.base, key, batch.id);
    expect(results.filter((r) => r.status === "completed").map((r) => r.customer_item_id)).toEqual(
      items.slice(0, 8).map((i) => i.customer_item_id),
    );
    for (const r of results.slice(8))
      expect(r).toMatchObject({ status: "failed", error: { code: "expired" }, cost: { amount: "0.000000" } });
    expect(await allResults(srv.base, key, batch.id, "status=failed")).toEqual(results.slice(8));

    const money = await expectBatchSettled(srv.database.db, batch.id);
    const row = money.batch;
    expect(Number(row.settled_fee_micros)).toBeGreaterThan(0);
    const refunds = money.entries.filter((e: any) => e.kind === "sla_fee_refund");
    expect(refunds).toHaveLength(1);
    expect(Number(refunds[0].available_delta)).toBe(Number(row.settled_fee_micros));
    expect(Number(refunds[0].reserved_delta)).toBe(0);
    const bill = (await call(srv.base, "GET", `/v1/batches/${batch.id}/billing-receipt`, { key })).body;
    expect(micros(bill.sla_fee_refund)).toBe(Number(row.settled_fee_micros));
    expect(micros(bill.released)).toBe(money.released);

    // The org paid the provider cost of the finished items and nothing else.
    const sums = await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
    expect(sums).toEqual({ available: 100_000_000 - Number(row.settled_provider_micros), reserved: 0 });
    const files = await call(srv.base, "GET", `/v1/batches/${batch.id}/artifact-url?kind=errors`, { key });
    const lines = (await (await fetch(files.body.url)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.error.code)).toEqual(Array(6).fill("expired"));

    // The slow unit's late result changes nothing, and a second expire job neither.
    await jobs.send(db, "expire", { batch_id: batch.id });
    const ledgerBefore = await db("ledger_entries").where({ batch_id: batch.id }).count("* as n");
    await expireJobsDone(db, batch.id, "the second expire job to run");
    expect(await db("ledger_entries").where({ batch_id: batch.id }).count("* as n")).toEqual(ledgerBefore);
    expect((await batchRow(batch.id)).status).toBe("expired");
  });
});
