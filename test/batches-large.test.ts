import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { prepareLargeBatch } from "../server/batches/prepare-large.js";
import { allResults, createBatch, expectBatchSettled, expectLedgerBalanced, makeItems, untilTerminal } from "./helpers/batches.js";
import { liveProviders, type LiveProviders } from "./helpers/providers.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// A batch from an input_file_id is accepted at once as `validating` (spec/api.md §5, large batches):
// its first job validates, prices, reserves and writes the items, or ends it `failed` with the
// error a synchronous create would have answered, having reserved and written nothing.

let srv: TestServer;
let providers: LiveProviders;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

const jsonl = (items: unknown[]) => `${items.map((i) => JSON.stringify(i)).join("\n")}\n`;

async function upload(key: string, items: unknown[], server: TestServer = srv): Promise<string> {
  const res = await fetch(`${server.base}/v1/batches/input-manifests`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson" },
    body: jsonl(items),
  });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

async function ledgerOf(orgId: string, environment: "live" | "test") {
  return srv.database
    .db("ledger_entries")
    .where({ org_id: orgId, environment })
    .orderBy("id")
    .select("kind", "available_delta", "reserved_delta");
}

describe("large batches are validated by their first job", () => {
  it("answers validating at once, then prices, reserves, runs and settles the manifest", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const fileId = await upload(key, makeItems(2500, { prefix: "big" }));
    const created = await createBatch(srv.base, key, { input_file_id: fileId, sla_tier: "flex" });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    // Nothing is known yet but what the file says.
    expect(created.body.batch).toMatchObject({ status: "validating", item_count: 2500, input_file_id: fileId, lanes: [] });
    expect(created.body.batch.counts.total).toBe(2500);

    const done = await untilTerminal(srv.base, key, created.body.batch.id, 60_000);
    expect(done.status).toBe("completed");
    expect(done.batch.counts.completed).toBe(2500);
    expect(Number(done.batch.pricing_estimate.total.amount)).toBeGreaterThan(0);
    const results = await allResults(srv.base, key, done.id);
    expect(results.map((r) => r.customer_item_id).sort()).toEqual(
      makeItems(2500, { prefix: "big" })
        .map((i) => i.customer_item_id)
        .sort(),
    );
    await expectBatchSettled(srv.database.db, done.id);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });

  it("ends failed with line-numbered preflight errors when the items don't fit the request, reserving nothing", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    // The upload takes items without a model (the create may name one); this create names none.
    const items = makeItems(4, { prefix: "nomodel" }).map(({ model: _m, ...rest }, i) =>
      i % 2 ? rest : { ...rest, model: "gpt-4o-mini" },
    );
    const fileId = await upload(key, items);
    const before = await ledgerOf(agent.org_id, "test");
    const created = await createBatch(srv.base, key, { input_file_id: fileId });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const done = await untilTerminal(srv.base, key, created.body.batch.id);
    expect(done.status).toBe("failed");
    expect(done.batch.error.code).toBe("preflight_failed");
    expect(done.batch.error.details.preflight).toEqual([
      { line: 2, item: "nomodel-1", code: "invalid_item", message: "/model: no model: set `model` on the item or the manifest" },
      { line: 4, item: "nomodel-3", code: "invalid_item", message: "/model: no model: set `model` on the item or the manifest" },
    ]);
    expect(await ledgerOf(agent.org_id, "test")).toEqual(before);
    expect(await srv.database.db("batch_items").where({ batch_id: done.id }).count("* as n")).toEqual([{ n: 0 }]);
    // The same file with a default model runs.
    const fixed = await createBatch(srv.base, key, { input_file_id: fileId, model: "gpt-4o-mini" });
    expect((await untilTerminal(srv.base, key, fixed.body.batch.id)).status).toBe("completed");
  });

  it("ends failed with no_eligible_lane naming the manifest's items no lane can serve, by id and place", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const long = "word ".repeat(40_000); // past the context window of every gemma lane
    const items = makeItems(5, { prefix: "fits", model: "gemma-4-e4b-it" });
    items[3] = { customer_item_id: "too-long-3", model: "gemma-4-e4b-it", input: { messages: [{ role: "user", content: long }] } } as never;
    const fileId = await upload(key, items);
    const before = await ledgerOf(agent.org_id, "test");
    const created = await createBatch(srv.base, key, { input_file_id: fileId });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const done = await untilTerminal(srv.base, key, created.body.batch.id);
    expect(done.status).toBe("failed");
    expect(done.batch.error.code).toBe("no_eligible_lane");
    expect(done.batch.error.message).toContain("e.g. too-long-3:");
    expect(done.batch.error.details).toMatchObject({ unroutable_count: 1, items: [{ index: 3, customer_item_id: "too-long-3" }] });
    expect(done.batch.error.details.items[0].reasons.map((r: { code: string }) => r.code)).toContain("context_window_exceeded");
    expect(await ledgerOf(agent.org_id, "test")).toEqual(before);
  });

  it("ends failed with insufficient_credits when the balance can't cover the price, reserving nothing", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.api_key; // live: no signup credit
    const fileId = await upload(key, makeItems(3, { prefix: "poor" }));
    const created = await createBatch(srv.base, key, { input_file_id: fileId });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const done = await untilTerminal(srv.base, key, created.body.batch.id);
    expect(done.status).toBe("failed");
    expect(done.batch.error).toMatchObject({
      code: "insufficient_credits",
      details: { available: { amount: "0.000000", currency: "usd" } },
    });
    expect(await ledgerOf(agent.org_id, "live")).toEqual([]);
  });

  it("reserves a quote made for the file at create: a short balance is a 402 at once", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.api_key;
    const fileId = await upload(key, makeItems(3, { prefix: "quoted" }));
    const quote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: { input_file_id: fileId } });
    expect(quote.status).toBe(200);
    const poor = await createBatch(srv.base, key, { input_file_id: fileId, quote_id: quote.body.quote_id });
    expect(poor.status).toBe(402);
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "promo_grant",
      available_delta: 10_000_000,
      posting_key: `grant:${agent.org_id}`,
      description: "test grant",
    });
    const created = await createBatch(srv.base, key, { input_file_id: fileId, quote_id: quote.body.quote_id });
    expect(created.status).toBe(202);
    expect(created.body.batch).toMatchObject({ status: "validating", pricing_estimate: quote.body.pricing_estimate });
    const done = await untilTerminal(srv.base, key, created.body.batch.id);
    expect(done.status).toBe("completed");
    await expectBatchSettled(srv.database.db, done.id);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
  });

  it("a batch cancelled while validating is never prepared: its prepare step writes nothing, and its items count as cancelled", async () => {
    const quiet = await startTestServer(); // no worker: nothing runs the jobs
    try {
      const agent = await registerAgent(quiet.base);
      const key = agent.test_api_key;
      const res = await fetch(`${quiet.base}/v1/batches/input-manifests`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson" },
        body: jsonl(makeItems(5, { prefix: "c" })),
      });
      const fileId = ((await res.json()) as any).id;
      const created = await call(quiet.base, "POST", "/v1/batches", {
        key,
        body: { input_file_id: fileId },
        headers: { "Idempotency-Key": "cancel-while-validating" },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(202);
      expect(created.body.batch.status).toBe("validating");
      const id = created.body.batch.id;
      const cancelled = await call(quiet.base, "POST", `/v1/batches/${id}/cancel`, { key });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe("cancelling");
      await prepareLargeBatch(quiet.platform.appDeps, id);
      expect(await quiet.database.db("batch_items").where({ batch_id: id }).count("* as n")).toEqual([{ n: 0 }]);
      expect((await quiet.database.db("batches").where({ id }).first()).status).toBe("cancelling");
      // Items it will never write count as cancelled on every surface, so the counts add up.
      const native = await call(quiet.base, "GET", `/v1/batches/${id}`, { key });
      expect(native.body.batch.counts).toMatchObject({ total: 5, cancelled: 5, queued: 0, processing: 0 });
      const openai = await call(quiet.base, "GET", `/v1/openai/v1/batches/${id}`, { key });
      expect(openai.body.request_counts).toEqual({ total: 5, completed: 0, failed: 5 });
      const anthropic = await call(quiet.base, "GET", `/v1/anthropic/v1/messages/batches/${id}`, { key });
      expect(anthropic.body.request_counts).toEqual({ processing: 0, succeeded: 0, errored: 0, canceled: 5, expired: 0 });
    } finally {
      await quiet.close();
    }
  });
});

describe("preparing with or without the manifest kept in memory (BATCHROUTER_PREPARE_KEEP_ITEMS)", () => {
  it("stores the same items, placed the same way, and runs them to the same results", async () => {
    const reread = await startTestServer({ ...providers.env, BATCHROUTER_PREPARE_KEEP_ITEMS: "0" }, { worker: true });
    try {
      const items = makeItems(300, { prefix: "twice" }).map((it, i) => (i % 7 === 0 ? { ...it, metadata: { n: `#${i}` } } : it));
      const runOn = async (server: TestServer) => {
        const agent = await registerAgent(server.base);
        const fileId = await upload(agent.test_api_key, items, server);
        const created = await createBatch(server.base, agent.test_api_key, { input_file_id: fileId, sla_tier: "flex" });
        expect(created.status, JSON.stringify(created.body)).toBe(202);
        const done = await untilTerminal(server.base, agent.test_api_key, created.body.batch.id, 60_000);
        expect(done.status).toBe("completed");
        const rows = await server.database
          .db("batch_items")
          .where({ batch_id: done.id })
          .orderBy("idx")
          .select("idx", "customer_item_id", "operation", "models", "item", "lane_id");
        const results = await allResults(server.base, agent.test_api_key, done.id);
        return { rows, results: results.map((r) => [r.customer_item_id, r.status, r.metadata ?? null]) };
      };
      const kept = await runOn(srv);
      const readTwice = await runOn(reread);
      expect(kept.rows).toHaveLength(300);
      expect(readTwice.rows).toEqual(kept.rows);
      expect(readTwice.results).toEqual(kept.results);
    } finally {
      await reread.close();
    }
  }, 90_000);
});
