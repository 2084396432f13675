import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectBatchSettled, expectLedgerBalanced, untilTerminal } from "./helpers/batches.js";
import { fundLive } from "./helpers/live.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { runFlowB } from "./helpers/quickstarts.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// The two customer quickstarts of /work/shared/spec/quickstarts.md, run as written but with the LIVE
// key an agent gets at sign-up: the work goes through the real adapters to the provider fakes (never
// the simulator), and the answers must be the providers'. batches-flow.test.ts runs them on a test key.

let providers: LiveProviders;
let srv: TestServer;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

/** The OpenAI fake's provider batches holding items of our batch (custom_id is `<batch id>:<idx>`). */
const providerBatchesOf = (batchId: string) =>
  [...providers.openai.state.batches.values()].filter((b) => b.lines.some((l) => l.custom_id.startsWith(`${batchId}:`)));

const ITEM = {
  customer_item_id: "item-1",
  operation: "responses",
  model: "gpt-4o-mini",
  input: { messages: [{ role: "user", content: "Summarize: revenue rose 12% on renewals." }] },
};

describe("quickstart flow A with a live key", () => {
  it("answers 402 at create while the live balance is zero", async () => {
    const { api_key: key } = await registerAgent(srv.base);
    const account = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(account.body.credit_balance.amount).toBe("0.000000");
    const quote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: { routing_mode: "cheapest", items: [ITEM] } });
    expect(quote.status).toBe(200);
    const body = { quote_id: quote.body.quote_id, sla_tier: "standard", items: [ITEM] };
    const created = await call(srv.base, "POST", "/v1/batches", { key, body, headers: { "Idempotency-Key": "quickstart-batch-001" } });
    expect(created.status).toBe(402);
    expect(created.body.error.code).toBe("insufficient_credits");
  });

  it("registers, quotes, creates once per idempotency key, and gets the provider's answer back", async () => {
    // Step 1: an agent with no account signs up (no body), then reads its account.
    const reg = await call(srv.base, "POST", "/v1/auth/agent-register");
    expect(reg.status).toBe(201);
    const { org_id, api_key: key } = reg.body;
    expect(key).toMatch(/^br_live_/);
    await fundLive(srv, org_id, 5_000_000);
    const account = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(account.status).toBe(200);
    expect(account.body.credit_balance.amount).toBe("5.000000");

    // Step 2: the quote the program prints, with what the docs say it carries.
    const quote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: { routing_mode: "cheapest", items: [ITEM] } });
    expect(quote.status).toBe(200);
    expect(quote.body.quote_id).toMatch(/^qlock_/);
    for (const f of ["total", "provider_subtotal", "batchrouter_fee", "customer_discount"])
      expect(quote.body.pricing_estimate[f]).toBeDefined();
    expect(typeof quote.body.customer_explanation).toBe("string");
    expect(quote.body.quote_lanes.find((l: { selected: boolean }) => l.selected)).toMatchObject({ provider: "openai" });
    // Live: the lanes of providers not configured here are rejected as such.
    const rejected = quote.body.quote_lanes.filter((l: { selected: boolean }) => !l.selected);
    expect(rejected.flatMap((l: { rejection_reasons: { code: string }[] }) => l.rejection_reasons.map((r) => r.code))).toContain(
      "provider_not_configured",
    );

    // Step 3: create with the quote and the Idempotency-Key; the same request again is the same batch.
    const body = { quote_id: quote.body.quote_id, sla_tier: "standard", items: [ITEM] };
    const headers = { "Idempotency-Key": "quickstart-batch-001" };
    const created = await call(srv.base, "POST", "/v1/batches", { key, body, headers });
    expect(created.status).toBe(202);
    const batch = created.body.batch;
    expect(batch).toMatchObject({ status: "pending", item_count: 1, environment: "live" });
    expect(batch.id).toMatch(/^bat_/);
    const again = await call(srv.base, "POST", "/v1/batches", { key, body, headers });
    expect(again.status).toBe(202);
    expect(again.body.batch.id).toBe(batch.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await srv.database.db("batches").where({ org_id }).count("* as n")).toEqual([{ n: 1 }]);

    // Step 4: poll until terminal (the Python version reads batch.status), then the billing receipt.
    const done = await untilTerminal(srv.base, key, batch.id);
    expect(done.batch.status).toBe("completed");
    const withReceipt = await call(srv.base, "GET", `/v1/batches/${batch.id}?include_billing_receipt=true`, { key });
    const receipt = withReceipt.body.batch.billing_receipt;
    expect(Number(receipt.settled_total.amount)).toBeGreaterThan(0);
    expect(Number(receipt.settled_total.amount)).toBeLessThanOrEqual(Number(receipt.quoted_total.amount));

    // Step 5: the results page and the signed link to the whole JSONL file.
    const results = await call(srv.base, "GET", `/v1/batches/${batch.id}/results?limit=100`, { key });
    expect(results.status).toBe(200);
    expect(results.body.next_cursor).toBeNull();
    expect(results.body.results).toEqual([expect.objectContaining({ customer_item_id: "item-1", status: "completed", error: null })]);
    const r = results.body.results[0];
    expect(r).toMatchObject({ provider: "openai", lane_id: "openai/gpt-4o-mini/us/batch" });
    // The provider's answer, not the simulator's: the fake echoes the prompt and counts its tokens.
    expect(r.output.text).toContain("Summarize: revenue rose 12%");
    expect(r.output.text).not.toContain("simulated");
    expect(r.usage.input_tokens).toBeGreaterThan(0);
    const link = await call(srv.base, "GET", `/v1/batches/${batch.id}/artifact-url`, { key });
    expect(link.status).toBe(200);
    expect(link.body).toMatchObject({ kind: "output", format: "jsonl" });
    const file = await fetch(link.body.url);
    expect(file.status).toBe(200);
    const lines = (await file.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ customer_item_id: "item-1", status: "completed" })]);

    // The fake ran exactly one provider batch for it, and the route receipt says live.
    const [provider] = providerBatchesOf(batch.id);
    expect(providerBatchesOf(batch.id)).toHaveLength(1);
    expect(provider?.wire.status).toBe("completed");
    expect(provider?.lines.map((l) => l.body.model)).toEqual(["gpt-4o-mini"]);
    const route = (await call(srv.base, "GET", `/v1/batches/${batch.id}/route-receipt`, { key })).body;
    expect(route.execution).toBe("live");
    expect(route.work_units.map((u: { execution: string }) => u.execution)).toEqual(["live"]);
    await expectBatchSettled(srv.database.db, batch.id);
    await expectLedgerBalanced(srv.database.db, org_id, "live");
  });
});

describe("quickstart flow B with a live key, as the JavaScript program runs it", () => {
  it("quotes and creates the manifest, polls state until final, reads results and the optimization report", async () => {
    const agent = await registerAgent(srv.base);
    await fundLive(srv, agent.org_id, 5_000_000);
    const { id, batch, results, report, route } = await runFlowB(srv.base, agent.api_key);
    expect(batch.state).toBe("completed");
    expect(results.results).toHaveLength(1);
    const r = results.results[0];
    expect(r).toMatchObject({ customer_item_id: "support_rollup_001", status: "completed", provider: "openai" });
    expect(r.model).toMatch(/^gpt-5\.4/);
    // Responses-API input went to OpenAI's /v1/responses batch endpoint, and its echo came back.
    expect(r.output.text).toContain("Summarize today's support queue.");
    const sent = providerBatchesOf(id);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.wire.endpoint).toBe("/v1/responses");
    expect(sent[0]?.lines[0]?.body.model).toBe(r.model);
    expect(route.execution).toBe("live");
    expect(report).toMatchObject({ object: "optimization_report", import_provider: "openai", comparable_items: 1 });
    expect(Number(report.optimized_cost.amount)).toBeGreaterThan(0);
    await expectBatchSettled(srv.database.db, id);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
  });
});
