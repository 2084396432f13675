import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sumEntries } from "../db/queries/ledger.js";
import { makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { runFlowB } from "./helpers/quickstarts.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({}, { worker: true });
});
afterAll(async () => srv?.close());

const ITEM = {
  customer_item_id: "item-1",
  operation: "responses",
  model: "gpt-4o-mini",
  input: { messages: [{ role: "user", content: "Summarize: revenue rose 12% on renewals." }] },
};

describe("quickstart flow A, on the simulator", () => {
  it("quotes, creates once per idempotency key, runs, returns results and settles the ledger", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const account = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(account.status).toBe(200);

    const quote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: { routing_mode: "cheapest", items: [ITEM] } });
    expect(quote.body.quote_id).toMatch(/^qlock_/);
    const body = { quote_id: quote.body.quote_id, sla_tier: "standard", items: [ITEM] };
    const headers = { "Idempotency-Key": "quickstart-batch-001" };
    const created = await call(srv.base, "POST", "/v1/batches", { key, body, headers });
    expect(created.status).toBe(202);
    expect(created.body.batch).toMatchObject({ status: "pending", item_count: 1, quote_id: quote.body.quote_id });
    expect(created.body.batch.id).toMatch(/^bat_/);
    const again = await call(srv.base, "POST", "/v1/batches", { key, body, headers });
    expect(again.body.batch.id).toBe(created.body.batch.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await srv.database.db("batches").where({ org_id: agent.org_id }).count("* as n")).toEqual([{ n: 1 }]);

    const id = created.body.batch.id;
    const done = await untilTerminal(srv.base, key, id);
    expect(done.batch.status).toBe("completed");
    expect(done.status).toBe("completed");
    expect(done.batch.counts).toMatchObject({ total: 1, completed: 1, failed: 0 });

    const withReceipt = await call(srv.base, "GET", `/v1/batches/${id}?include_billing_receipt=true`, { key });
    const receipt = withReceipt.body.batch.billing_receipt;
    expect(receipt.quoted_total).toEqual(quote.body.pricing_estimate.total);
    expect(Number(receipt.settled_total.amount)).toBeGreaterThan(0);
    expect(Number(receipt.settled_total.amount)).toBeLessThanOrEqual(Number(receipt.quoted_total.amount));

    const results = await call(srv.base, "GET", `/v1/batches/${id}/results?limit=100`, { key });
    expect(results.status).toBe(200);
    expect(results.body.next_cursor).toBeNull();
    expect(results.body.results).toEqual([expect.objectContaining({ customer_item_id: "item-1", status: "completed", error: null })]);
    const r = results.body.results[0];
    expect(r.output.text).toContain("simulated");
    expect(r.usage.input_tokens).toBeGreaterThan(0);
    expect(r.usage.output_tokens).toBeGreaterThan(0);

    const link = await call(srv.base, "GET", `/v1/batches/${id}/artifact-url`, { key });
    expect(link.body).toMatchObject({ kind: "output", format: "jsonl" });
    const file = await fetch(link.body.url);
    expect(file.status).toBe(200);
    const lines = (await file.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ customer_item_id: "item-1", status: "completed" })]);

    // The reservation was released down to what was spent, and the ledger sums to the balance.
    const after = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(after.body.reserved_balance.amount).toBe("0.000000");
    const spent = 100 - Number(after.body.credit_balance.amount);
    expect(spent.toFixed(6)).toBe(receipt.settled_total.amount);
    const sums = await sumEntries(srv.database.db, agent.org_id, "test");
    expect(sums.reserved).toBe(0);
    expect((sums.available / 1e6).toFixed(6)).toBe(after.body.available_balance.amount);
    const kinds = (await call(srv.base, "GET", "/v1/billing/ledger", { key })).body.data.map((e: { kind: string }) => e.kind);
    expect(kinds.sort()).toEqual(["promo_grant", "reservation", "reservation_release", "settlement"]);
  });
});

describe("quickstart flow B, exactly as the JavaScript program runs it", () => {
  it("quotes and creates the same manifest, polls state until done, reads results and the optimization report", async () => {
    const agent = await registerAgent(srv.base);
    const { batch, results, report } = await runFlowB(srv.base, agent.test_api_key);
    expect(batch.state).toBe("completed");
    expect(results.results[0]).toMatchObject({ customer_item_id: "support_rollup_001", status: "completed" });
    expect(results.results[0].model).toMatch(/^gpt-5\.4/);
    expect(report).toMatchObject({ object: "optimization_report", import_provider: "openai", comparable_items: 1 });
    // Routed to OpenAI's own batch lane, the work costs the list batch price plus our fee: no savings, and we say so.
    expect(Number(report.optimized_cost.amount)).toBeGreaterThan(0);
    expect(Number(report.baseline_cost.amount)).toBeGreaterThan(0);
    expect(report.baseline_cost_trend).toHaveLength(1);
  });
});

describe("webhooks from a batch", () => {
  it("delivers signed batch.submitted and batch.completed events to the org's default webhook", async () => {
    const { createServer } = await import("node:http");
    const { verifyBatchRouterSignature } = await import("../server/webhooks/signing.js");
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    try {
      const agent = await registerAgent(srv.base);
      const key = agent.test_api_key;
      const set = await call(srv.base, "PUT", "/v1/auth/account/delivery-webhook", {
        key,
        body: { url, secret: "whsec-test-secret-1234" },
      });
      expect(set.body).toEqual({ object: "delivery_webhook", url, secret_last4: "1234" });
      expect(JSON.stringify((await call(srv.base, "GET", "/v1/auth/account/delivery-webhook", { key })).body)).not.toContain(
        "whsec-test-secret",
      );
      const created = await call(srv.base, "POST", "/v1/batches", {
        key,
        body: { items: [ITEM] },
        headers: { "Idempotency-Key": "webhook-batch-0001" },
      });
      const id = created.body.batch.id;
      await untilTerminal(srv.base, key, id);
      const types = await waitFor(
        async () => {
          const t = received.map((r) => JSON.parse(r.body).type);
          return t.includes("batch.completed") ? t : undefined;
        },
        20_000,
        "batch.completed delivery",
      );
      expect(types).toContain("batch.submitted");
      for (const r of received) {
        expect(verifyBatchRouterSignature(r.body, "whsec-test-secret-1234", r.headers["x-batchrouter-signature"] as string)).toBe(true);
        expect(r.headers["webhook-id"]).toBe(JSON.parse(r.body).id);
      }
      const done = JSON.parse(received.find((r) => JSON.parse(r.body).type === "batch.completed")!.body);
      expect(done.data).toMatchObject({ batch_id: id, status: "completed", items_total: 1, items_completed: 1, items_failed: 0 });
      const log = await call(srv.base, "GET", `/v1/batches/${id}/webhook-deliveries`, { key });
      expect(log.body.data.every((d: { status: string }) => d.status === "delivered")).toBe(true);
      const other = await registerAgent(srv.base);
      expect((await call(srv.base, "GET", `/v1/batches/${id}/webhook-deliveries`, { key: other.test_api_key })).status).toBe(404);
    } finally {
      receiver.close();
    }
  });
});

describe("a finished batch's counts", () => {
  it("are kept on the batch as it ends, and polls and lists read them from there", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const created = await mustCreate(srv.base, key, { items: makeItems(5) });
    const done = await untilTerminal(srv.base, key, created.id);
    expect(done.batch.counts).toMatchObject({ total: 5, completed: 5, queued: 0, processing: 0 });

    const row = await srv.database.db("batches").where({ id: created.id }).first();
    expect(row.final_tally.counts).toEqual({ completed: 5 });
    expect(row.final_tally.lanes).toEqual([{ lane_id: expect.any(String), item_count: 5, open: 0 }]);
    const used = await srv.database
      .db("batch_items")
      .where({ batch_id: created.id })
      .sum({ input: "input_tokens", output: "output_tokens" });
    expect(row.final_tally.tokens).toEqual({ input: Number(used[0].input), output: Number(used[0].output) });
    expect(row.final_tally.tokens.input).toBeGreaterThan(0);

    // Nothing changes a finished batch's items; if something did, reads would still show the counts
    // it ended with — which is how this test sees they are no longer counted on each read.
    await srv.database.db("batch_items").where({ batch_id: created.id, idx: 0 }).update({ status: "failed" });
    const again = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(again.body.batch.counts).toMatchObject({ completed: 5, failed: 0 });
    const listed = await call(srv.base, "GET", "/v1/batches?limit=5", { key });
    expect(listed.body.data.find((b: { id: string }) => b.id === created.id).counts).toMatchObject({ completed: 5, failed: 0 });
  });
});
