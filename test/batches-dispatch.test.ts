import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CatalogSnapshot, CatalogStore } from "../server/catalog/store.js";
import type { BatchWorkerDeps } from "../worker/batch-context.js";
import { dispatchBatch } from "../worker/jobs/dispatch-batch.js";
import { finalizeBatch } from "../worker/jobs/finalize-batch.js";
import { createSimulator } from "../worker/providers/simulator.js";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// The dispatch step on its own: the API-only server takes the batch (no worker runs it), and the
// test calls the job handler itself, with a catalog it can hold or change.
let api: TestServer;
beforeAll(async () => {
  api = await startTestServer();
});
afterAll(async () => api?.close());

function workerDeps(catalog: Pick<CatalogStore, "get">): BatchWorkerDeps {
  const d = api.platform.appDeps;
  return {
    ...d,
    catalog: catalog as CatalogStore,
    simulator: createSimulator({ turnaroundMs: 0 }),
    credentials: {},
    retryBaseMs: 10,
  } as unknown as BatchWorkerDeps;
}

const statusOf = async (key: string, id: string) => (await call(api.base, "GET", `/v1/batches/${id}`, { key })).body.status as string;
const routeOf = (srv: TestServer, key: string, id: string) =>
  call(srv.base, "GET", `/v1/batches/${id}/route-receipt`, { key }).then((r) => r.body);

describe("dispatch", () => {
  it("passes through queued and routing to dispatched, each visible, and carries on from either after a crash", async () => {
    const agent = await registerAgent(api.base);
    const key = agent.test_api_key;
    const batch = await mustCreate(api.base, key, { items: makeItems(3, { prefix: "life" }) });
    expect(batch.status).toBe("pending");

    // Hold the catalog read of the routing step: the batch is seen `routing` meanwhile.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const real = api.platform.appDeps.catalog;
    const dispatching = dispatchBatch(workerDeps({ get: async () => (await held, real.get()) }), batch.id);
    await expect.poll(() => statusOf(key, batch.id), { timeout: 5000 }).toBe("routing");
    release();
    await dispatching;
    expect(await statusOf(key, batch.id)).toBe("dispatched");
    const submits = await api.database.db
      .withSchema("pgboss")
      .from("job")
      .where({ name: "wu.submit" })
      .whereRaw("data->>'work_unit_id' IN (SELECT id FROM work_units WHERE batch_id = ?)", [batch.id]);
    expect(submits).toHaveLength(1);

    // A worker that died after either step: the next run carries on from it.
    for (const from of ["queued", "routing"]) {
      const again = await mustCreate(api.base, key, { items: makeItems(2, { prefix: `resume-${from}` }) });
      await api.database.db("batches").where({ id: again.id }).update({ status: from });
      await dispatchBatch(workerDeps(real), again.id);
      expect(await statusOf(key, again.id)).toBe("dispatched");
    }
    // A batch past dispatch is left alone (a duplicate job).
    await dispatchBatch(workerDeps(real), batch.id);
    const events = (await routeOf(api, key, batch.id)).events.map((e: { kind: string }) => e.kind);
    expect(events.filter((k: string) => k === "dispatched")).toHaveLength(1);
  });

  it("fails the items of a unit whose lane was withdrawn with no usable rung left, ends the batch and bills none of them", async () => {
    const agent = await registerAgent(api.base);
    const key = agent.test_api_key;
    const batch = await mustCreate(api.base, key, { items: makeItems(4, { prefix: "gone" }) });
    const [unit] = await api.database.db("work_units").where({ batch_id: batch.id });
    const withdrawn = new Set([unit.lane_id, ...unit.fallback_order]);
    const real = api.platform.appDeps.catalog;
    const without = async (): Promise<CatalogSnapshot> => {
      const s = await real.get();
      return { ...s, laneById: new Map([...s.laneById].filter(([id]) => !withdrawn.has(id))) };
    };
    await dispatchBatch(workerDeps({ get: without }), batch.id);
    const items = await api.database.db("batch_items").where({ batch_id: batch.id });
    expect(items.map((i: { status: string; error: { code: string } }) => [i.status, i.error?.code])).toEqual(
      Array(4).fill(["failed", "lane_unavailable"]),
    );
    const route = await routeOf(api, key, batch.id);
    expect(route.events.find((e: { kind: string }) => e.kind === "lane_failed")).toMatchObject({
      lane_id: unit.lane_id,
      item_count: 4,
      reason: "the lane is no longer offered",
    });
    // Nothing is left to collect, so dispatch itself enqueued the finalize step; run it as the worker would.
    const finalize = await api.database.db
      .withSchema("pgboss")
      .from("job")
      .where({ name: "batch.finalize" })
      .whereRaw("data->>'batch_id' = ?", [batch.id]);
    expect(finalize).toHaveLength(1);
    await finalizeBatch(workerDeps(real), batch.id);
    const ended = await call(api.base, "GET", `/v1/batches/${batch.id}`, { key });
    expect(ended.body).toMatchObject({ status: "failed", batch: { error: { code: "all_items_failed" } } });
    const money = await expectBatchSettled(api.database.db, batch.id);
    expect(money.settled).toBe(0);
    expect(money.released).toBe(Number(money.batch.reserved_micros));
    await expectLedgerBalanced(api.database.db, agent.org_id, "test");
  });
});

describe("a lane that went unhealthy after the quote", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({}, { worker: { simulator: { turnaroundMs: 0 } } });
  });
  afterAll(async () => srv?.close());

  it("is skipped at dispatch: its items go down the ladder and are billed at the quoted price", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = makeItems(6, { prefix: "sick" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items, allowed_regions: ["us"] } })).body;
    const [unit] = quote.work_units;
    expect(unit.fallback_order.length).toBeGreaterThan(0);
    // The learning loop marks the quoted lane unhealthy, and drops the cached catalog.
    await srv.database.db("lane_stats").insert({ lane_id: unit.lane_id, healthy: false }).onConflict("lane_id").merge();
    srv.platform.appDeps.catalog.invalidate();

    const batch = await mustCreate(srv.base, key, { quote_id: quote.quote_id, items });
    const done = await untilTerminal(srv.base, key, batch.id);
    expect(done.status).toBe("completed");
    const route = await routeOf(srv, key, batch.id);
    expect(route.fallbacks).toEqual([
      expect.objectContaining({
        from_lane_id: unit.lane_id,
        to_lane_id: unit.fallback_order[0],
        item_count: 6,
        reason: "the lane is unhealthy at dispatch",
      }),
    ]);
    const locked = quote.quote_lanes.find((l: { lane_id: string }) => l.lane_id === unit.lane_id).unit_price;
    for (const r of await allResults(srv.base, key, batch.id)) {
      expect(r).toMatchObject({ status: "completed", lane_id: unit.fallback_order[0] });
      expect(micros(r.cost)).toBe(
        Math.ceil((r.usage.input_tokens * micros(locked.input_per_mtok) + r.usage.output_tokens * micros(locked.output_per_mtok)) / 1e6),
      );
    }
    await expectBatchSettled(srv.database.db, batch.id);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});
