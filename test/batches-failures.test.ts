import { afterAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer, type TestServerOptions } from "./helpers/server.js";

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function server(worker: Exclude<TestServerOptions["worker"], true | undefined>) {
  const s = await startTestServer({}, { worker });
  servers.push(s);
  return s;
}

const routeOf = (srv: TestServer, key: string, id: string) =>
  call(srv.base, "GET", `/v1/batches/${id}/route-receipt`, { key }).then((r) => r.body);
const itemRows = (srv: TestServer, id: string) => srv.database.db("batch_items").where({ batch_id: id }).orderBy("idx");

describe("item failures on a healthy lane", () => {
  it("fails permanent errors once with their code, retries retryable ones, and bills only what completed", async () => {
    const srv = await server({ simulator: { turnaroundMs: 0 } });
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const triggers: Record<number, string> = {
      1: "[simulate:content_policy]",
      2: "[simulate:content_policy]",
      4: "[simulate:invalid_input]",
      5: "[simulate:invalid_input]",
      7: "[simulate:rate_limit]",
      8: "[simulate:server_error]",
      9: "[simulate:timeout]",
    };
    const items = makeItems(20, { prefix: "f", text: (i) => triggers[i] }).map((it, i) =>
      i % 3 === 0 ? { ...it, metadata: { n: `#${i}`, quote: 'say "hi" \\ 😊' } } : it,
    );
    const batch = await mustCreate(srv.base, key, { items });
    const done = await untilTerminal(srv.base, key, batch.id);
    expect(done.status).toBe("completed");
    expect(done.batch.counts).toMatchObject({ total: 20, completed: 16, failed: 4 });

    const results = await allResults(srv.base, key, batch.id);
    expect(results.map((r) => r.customer_item_id)).toEqual(items.map((i) => i.customer_item_id));
    const rows = await itemRows(srv, batch.id);
    for (const [i, r] of results.entries()) {
      const trig = triggers[i];
      if (trig === "[simulate:content_policy]" || trig === "[simulate:invalid_input]") {
        expect(r.status).toBe("failed");
        expect(r.error).toMatchObject({ code: trig.includes("content") ? "content_policy" : "invalid_input", provider_status: 400 });
        expect(r.output).toBeNull();
        expect(micros(r.cost)).toBe(0);
        expect(rows[i].attempts).toBe(1); // never retried
      } else {
        expect(r.status).toBe("completed");
        expect(micros(r.cost)).toBeGreaterThan(0);
        // The retryable triggers fail attempts 1 and 2, so their items took 3.
        expect(rows[i].attempts).toBe(trig ? 3 : 1);
      }
    }
    const route = await routeOf(srv, key, batch.id);
    // Two more rounds for the retryable ones: the first on the same lane; the second may go down the
    // ladder, since a unit of nothing but those items looks like a degraded lane.
    expect(route.retries[0]).toMatchObject({ lane_id: "openai/gpt-4o-mini/us/batch", item_count: 3 });
    expect(route.retries.length + route.fallbacks.length).toBe(2);

    // The output and errors files hold exactly what the results endpoint answers, in the same order.
    const file = async (kind: string) => {
      const link = await call(srv.base, "GET", `/v1/batches/${batch.id}/artifact-url?kind=${kind}`, { key });
      const text = await (await fetch(link.body.url)).text();
      expect(text.endsWith("\n")).toBe(true);
      return text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    };
    expect(await file("output")).toEqual(results.filter((r) => r.status === "completed"));
    expect(await file("errors")).toEqual(results.filter((r) => r.status === "failed"));
    expect(results[3].metadata).toEqual({ n: "#3", quote: 'say "hi" \\ 😊' });

    const settled = await expectBatchSettled(srv.database.db, batch.id);
    expect(settled.itemCosts).toBe(results.reduce((s, r) => s + micros(r.cost), 0));
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");

    // Every item failing permanently: the batch fails, and the whole reservation comes back.
    const bad = await mustCreate(srv.base, key, { items: makeItems(3, { prefix: "all-bad", text: () => "[simulate:invalid_input]" }) });
    const ended = await untilTerminal(srv.base, key, bad.id);
    expect(ended.status).toBe("failed");
    expect(ended.batch.error).toMatchObject({ code: "all_items_failed" });
    const money = await expectBatchSettled(srv.database.db, bad.id);
    expect(money.settled).toBe(0);
    expect(money.released).toBe(Number(money.batch.reserved_micros));
    const errors = await call(srv.base, "GET", `/v1/batches/${bad.id}/artifact-url?kind=errors`, { key });
    const lines = (await (await fetch(errors.body.url)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.customer_item_id, l.error.code])).toEqual([
      ["all-bad-0", "invalid_input"],
      ["all-bad-1", "invalid_input"],
      ["all-bad-2", "invalid_input"],
    ]);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});

describe("a lane that is down", () => {
  it("moves its items down the fallback ladder, within the constraints and at the locked price", async () => {
    const srv = await server({ simulator: { turnaroundMs: 0, faults: { "openai/gpt-4o-mini/us/batch": { lane_down: true } } } });
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = makeItems(12, { prefix: "down" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items, allowed_regions: ["us"] } })).body;
    const [unit] = quote.work_units;
    expect(unit.lane_id).toBe("openai/gpt-4o-mini/us/batch");
    expect(unit.fallback_order.length).toBeGreaterThan(0);
    expect(unit.fallback_order.every((l: string) => l.includes("/us/"))).toBe(true);
    const batch = await mustCreate(srv.base, key, { quote_id: quote.quote_id, items });
    const done = await untilTerminal(srv.base, key, batch.id);
    expect(done.status).toBe("completed");
    expect(done.batch.counts).toMatchObject({ completed: 12, failed: 0 });

    const route = await routeOf(srv, key, batch.id);
    expect(route.fallbacks).toHaveLength(1);
    expect(route.fallbacks[0]).toMatchObject({
      from_lane_id: "openai/gpt-4o-mini/us/batch",
      to_lane_id: unit.fallback_order[0],
      item_count: 12,
    });
    expect(route.fallbacks[0].reason).toMatch(/submit failed/);
    expect(route.work_units.map((u: any) => [u.lane_id, u.status])).toEqual([
      ["openai/gpt-4o-mini/us/batch", "failed"],
      [unit.fallback_order[0], "collected"],
    ]);

    const results = await allResults(srv.base, key, batch.id);
    const locked = quote.quote_lanes.find((l: any) => l.lane_id === unit.lane_id).unit_price;
    for (const r of results) {
      expect(r).toMatchObject({ status: "completed", lane_id: unit.fallback_order[0] });
      // Billed at the quoted lane's prices, not the fallback lane's list price.
      expect(micros(r.cost)).toBe(
        Math.ceil((r.usage.input_tokens * micros(locked.input_per_mtok) + r.usage.output_tokens * micros(locked.output_per_mtok)) / 1e6),
      );
    }
    const bill = (await call(srv.base, "GET", `/v1/batches/${batch.id}/billing-receipt`, { key })).body;
    expect(micros(bill.settled_total)).toBeLessThanOrEqual(micros(quote.pricing_estimate.total));
    expect(bill.provider_lanes.map((l: any) => [l.lane_id, l.items])).toEqual([[unit.fallback_order[0], 12]]);
    await expectBatchSettled(srv.database.db, batch.id);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });

  it("never crosses a region constraint: with every allowed lane down, the items fail and are released", async () => {
    const srv = await server({ simulator: { turnaroundMs: 0, faults: { "*/gpt-4o-mini/us/*": { lane_down: true } } } });
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = makeItems(3, { prefix: "nowhere" });
    const batch = await mustCreate(srv.base, key, { items, allowed_regions: ["us"] });
    const done = await untilTerminal(srv.base, key, batch.id, 45_000);
    expect(done.status).toBe("failed");
    const route = await routeOf(srv, key, batch.id);
    const lanes = route.work_units.map((u: any) => u.lane_id);
    expect(lanes.every((l: string) => l.includes("/us/"))).toBe(true);
    expect(route.fallbacks.length).toBe(lanes.length - 1);
    const results = await allResults(srv.base, key, batch.id);
    for (const r of results) expect(r).toMatchObject({ status: "failed", error: { code: "provider_error" } });
    const money = await expectBatchSettled(srv.database.db, batch.id);
    expect(money.settled).toBe(0);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});

describe("random faults at scale", () => {
  it("ends each of 200 items with exactly one result and bills the sum of the completed ones", async () => {
    const srv = await server({ simulator: { turnaroundMs: 300, faults: { "*": { server_error: 0.3, rate_limit: 0.05, timeout: 0.05 } } } });
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = [...makeItems(120, { prefix: "r-mini" }), ...makeItems(80, { prefix: "r-haiku", model: "claude-haiku-4" })];
    const batch = await mustCreate(srv.base, key, { items });
    let sawRetries = false;
    const done = await waitFor(
      async () => {
        const res = await call(srv.base, "GET", `/v1/batches/${batch.id}`, { key });
        const c = res.body.batch.counts;
        // Items waiting for another attempt still count, in exactly one bucket.
        expect(c.queued + c.processing + c.completed + c.failed + c.cancelled + c.expired).toBe(200);
        if (await srv.database.db("batch_items").where({ batch_id: batch.id }).where("attempts", ">", 1).first()) sawRetries = true;
        return ["completed", "failed"].includes(res.body.status) ? res.body : undefined;
      },
      45_000,
      "the faulty batch to end",
    );
    expect(sawRetries).toBe(true);
    const results = await allResults(srv.base, key, batch.id, "limit=37");
    expect(results.map((r) => r.customer_item_id)).toEqual(items.map((i) => i.customer_item_id));
    const completed = results.filter((r) => r.status === "completed");
    expect(done.batch.counts.completed).toBe(completed.length);
    expect(done.batch.counts.failed).toBe(200 - completed.length);
    // 35 % per attempt over 8 attempts: failing them all is a one-in-four-thousand event per item.
    expect(completed.length).toBeGreaterThanOrEqual(195);
    const rows = await itemRows(srv, batch.id);
    for (const r of rows) {
      if (r.status === "failed") expect(r.attempts).toBe(8);
      expect(r.attempts).toBeGreaterThanOrEqual(1);
      expect(r.attempts).toBeLessThanOrEqual(8);
    }
    const money = await expectBatchSettled(srv.database.db, batch.id);
    expect(money.itemCosts).toBe(completed.reduce((s, r) => s + micros(r.cost), 0));
    const bill = (await call(srv.base, "GET", `/v1/batches/${batch.id}/billing-receipt`, { key })).body;
    expect(bill.provider_lanes.reduce((s: number, l: any) => s + micros(l.provider_cost), 0)).toBe(money.itemCosts);
    expect(bill.provider_lanes.reduce((s: number, l: any) => s + l.items, 0)).toBe(completed.length);
    const route = await routeOf(srv, key, batch.id);
    expect(route.retries.length).toBeGreaterThan(0);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});
