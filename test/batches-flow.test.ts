import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sumEntries } from "../db/queries/ledger.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({}, { worker: true });
});
afterAll(async () => srv?.close());

const ITEM = { customer_item_id: "item-1", operation: "responses", model: "gpt-4o-mini", input: { messages: [{ role: "user", content: "Summarize: revenue rose 12% on renewals." }] } };
const TERMINAL = ["completed", "failed", "canceled", "cancelled", "expired"];

async function untilTerminal(key: string, id: string) {
  return waitFor(async () => {
    const res = await call(srv.base, "GET", `/v1/batches/${id}`, { key });
    return TERMINAL.includes(res.body.state) ? res.body : undefined;
  }, 30_000, `batch ${id} to end`);
}

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
    const done = await untilTerminal(key, id);
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
    const lines = (await file.text()).trim().split("\n").map((l) => JSON.parse(l));
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
