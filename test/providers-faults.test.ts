import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { itemCost } from "../server/batches/settlement.js";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { expectNothingTwice, expectOneResultEach, fundLive, lanesTouched, providerRuns, resetFaults } from "./helpers/live.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { call, registerAgent, startTestServer, type TestServer, waitFor } from "./helpers/server.js";

// The fault suite: live keys, the real adapters and protocols against the loopback fakes of
// OpenAI and Anthropic, the whole HTTP stack and worker. What must hold whatever the providers do:
// each item ends exactly once, nothing is billed twice, no lane outside the request's constraints.

let providers: LiveProviders;
let srv: TestServer;
beforeAll(async () => {
  providers = await liveProviders();
  // A small backoff base: retries (of submits, items, and provider reads) come in milliseconds.
  srv = await startTestServer(providers.env, { worker: { retryBaseMs: 20 } });
});
afterEach(() => resetFaults(providers));
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

async function liveAgent() {
  const agent = await registerAgent(srv.base);
  await fundLive(srv, agent.org_id);
  return agent;
}

const OA = (n: number, prefix = "oa") => makeItems(n, { prefix, model: "gpt-4o-mini" });
const AN = (n: number, prefix = "an") => makeItems(n, { prefix, model: "claude-haiku-4" });
const countBy = (xs: string[]) => {
  const m: Record<string, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
};
const ids = (items: { customer_item_id: string }[]) => items.map((i) => i.customer_item_id);

async function receiptOf(key: string, batchId: string) {
  const res = await call(srv.base, "GET", `/v1/batches/${batchId}/route-receipt`, { key });
  expect(res.status).toBe(200);
  return res.body;
}

/** The money invariants every case ends with. */
async function expectMoneyOnce(orgId: string, batchId: string) {
  await expectBatchSettled(srv.database.db, batchId);
  await expectLedgerBalanced(srv.database.db, orgId, "live");
  await expectNothingTwice(srv, orgId, batchId);
}

describe("provider faults on live batches", () => {
  it("30 % of provider calls fail: every item ends once, nothing is billed twice, lanes stay in the constraints", async () => {
    const agent = await liveAgent();
    const items = [...OA(20), ...AN(20)];
    // Every kind of transient failure, on every call of both providers (submit, poll, results); the
    // Anthropic seed is one whose draws hit this run's calls (OpenAI's is fixed by liveProviders).
    providers.openai.setFaults({ rate: 0.3, kinds: ["timeout", "503", "429", "500"], timeoutMs: 150, retryAfterSeconds: 0 });
    providers.anthropic.setFaults({ rate: 0.3, kinds: [429, 500, 529, "timeout"], timeoutMs: 150, retryAfterSeconds: 0.05, seed: 6 });
    const batch = await mustCreate(srv.base, agent.api_key, { items, allowed_regions: ["us"], privacy_tier: "no_training" });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 60_000);
    resetFaults(providers);
    expect(done.status).toBe("completed");

    const results = await allResults(srv.base, agent.api_key, batch.id);
    expectOneResultEach(results, ids(items));
    // Transient faults are retried, so nothing is left failed with a retryable code.
    expect(results.filter((r) => r.status !== "completed").map((r) => r.error)).toEqual([]);
    // The draws are seeded: this run's calls meet 429s, 5xx and timeouts on both providers.
    expect(providers.openai.requests.filter((r) => r.fault).length, "OpenAI faults").toBeGreaterThan(0);
    expect(providers.anthropic.requests.filter((r) => r.fault).length, "Anthropic faults").toBeGreaterThan(0);
    for (const lane of await lanesTouched(srv, batch.id)) {
      expect(lane.region, lane.lane_id).toBe("us");
      expect(lane.privacy.no_training || lane.privacy.zdr, lane.lane_id).toBe(true);
    }
    // No provider batch answered an item a second time (the fakes' own record of work done).
    expect([...providerRuns(providers, batch.id)].filter(([, n]) => n > 1)).toEqual([]);
    await expectMoneyOnce(agent.org_id, batch.id);
  }, 90_000);

  it("a batch lane dies mid-batch: the provider batch expires half done, then the lane is at capacity; the rest moves down the ladder at the locked price", async () => {
    const agent = await liveAgent();
    const items = OA(10);
    providers.openai.hold();
    const batch = await mustCreate(srv.base, agent.api_key, { items });
    await waitFor(
      () => ([...providers.openai.state.batches.values()].some((b) => b.parked) ? true : undefined),
      15_000,
      "the first provider batch in progress",
    );
    // From now on the lane is dead: the running batch expires with half its requests done, and every
    // new batch fails validation with token_limit_exceeded (OpenAI's "at capacity").
    providers.openai.setFaults({ expire: true, expireAfterFraction: 0.5, tokenLimitExceeded: true });
    providers.openai.release();
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 30_000);
    expect(done.status).toBe("completed");

    const results = await allResults(srv.base, agent.api_key, batch.id);
    expectOneResultEach(results, ids(items));
    expect(results.every((r) => r.status === "completed")).toBe(true);
    // The half the expired batch finished is kept; the rest went us batch → eu batch → us real-time.
    expect(countBy(results.map((r) => r.lane_id))).toEqual({ "openai/gpt-4o-mini/us/batch": 5, "openai/gpt-4o-mini/us/realtime": 5 });
    const receipt = await receiptOf(agent.api_key, batch.id);
    expect(receipt.fallbacks.map((f: { from_lane_id: string; to_lane_id: string }) => `${f.from_lane_id} → ${f.to_lane_id}`)).toEqual([
      "openai/gpt-4o-mini/us/batch → openai/gpt-4o-mini/eu/batch",
      "openai/gpt-4o-mini/eu/batch → openai/gpt-4o-mini/us/realtime",
    ]);
    expect(receipt.execution).toBe("live");
    const [failedBatch] = [...providers.openai.state.batches.values()].filter((b) => b.wire.status === "failed");
    expect(failedBatch?.wire.errors?.data[0]?.code).toBe("token_limit_exceeded");
    expect(providers.openai.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(5);

    // At the locked price: every unit kept the first one's prices, and each item was billed by them.
    const db = srv.database.db;
    const units = await db("work_units").where({ batch_id: batch.id }).orderBy("created_at");
    for (const u of units)
      expect([u.input_per_mtok_micros, u.output_per_mtok_micros]).toEqual([
        units[0].input_per_mtok_micros,
        units[0].output_per_mtok_micros,
      ]);
    for (const it of await db("batch_items").where({ batch_id: batch.id }))
      expect(Number(it.cost_micros)).toBe(itemCost(units[0], it.input_tokens, it.output_tokens));
    expect([...providerRuns(providers, batch.id)].filter(([, n]) => n > 1)).toEqual([]);
    await expectMoneyOnce(agent.org_id, batch.id);
  }, 60_000);

  it("every batch create is refused (500) on both providers: the items move to the real-time lanes, never out of the allowed regions", async () => {
    const agent = await liveAgent();
    const items = [...OA(6), ...AN(4)];
    providers.openai.setFaults({ failBatches: 1_000, kinds: ["500"] });
    providers.anthropic.setFaults({ rate: 1, kinds: [500], ops: ["create"] });
    const batch = await mustCreate(srv.base, agent.api_key, { items, allowed_regions: ["us"] });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 30_000);
    expect(done.status).toBe("completed");

    const results = await allResults(srv.base, agent.api_key, batch.id);
    expectOneResultEach(results, ids(items));
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(new Set(results.map((r) => r.lane_id))).toEqual(
      new Set(["openai/gpt-4o-mini/us/realtime", "anthropic/claude-haiku-4/us/realtime"]),
    );
    // With only us allowed the eu batch lane is not on the ladder: straight to us real-time.
    const receipt = await receiptOf(agent.api_key, batch.id);
    expect(receipt.fallbacks).toHaveLength(2);
    for (const f of receipt.fallbacks) {
      expect(f.to_lane_id).toMatch(/\/us\/realtime$/);
      expect(f.reason).toMatch(/^submit failed 3 times/);
    }
    for (const lane of await lanesTouched(srv, batch.id)) expect(lane.region, lane.lane_id).toBe("us");
    expect(providers.anthropic.requests.filter((r) => r.op === "messages" && r.status === 200)).toHaveLength(4);
    await expectMoneyOnce(agent.org_id, batch.id);
  }, 60_000);

  it("transient faults while polling are retried with the pipeline's backoff; a provider job that stays unreadable moves down the ladder", async () => {
    const agent = await liveAgent();
    // Six 503s on the provider job's reads, then it answers: the unit waits them out and completes.
    providers.openai.hold();
    const first = await mustCreate(srv.base, agent.api_key, { items: makeItems(2, { prefix: "poll" }), allowed_regions: ["us"] });
    await waitFor(
      async () => ((await srv.database.db("work_units").where({ batch_id: first.id, status: "submitted" }).first()) ? true : undefined),
      10_000,
      "the unit at the provider",
    );
    providers.openai.setFaults({ failBatches: 6, kinds: ["503"] });
    providers.openai.release();
    expect((await untilTerminal(srv.base, agent.api_key, first.id)).status).toBe("completed");
    const unit = await srv.database.db("work_units").where({ batch_id: first.id }).orderBy("created_at").first();
    // The reads failed and were retried (the count starts over once a read works).
    expect(unit.last_error).toMatchObject({ provider_status: 503 });
    expect(unit.poll_failures).toBe(0);
    expect(unit.status).toBe("collected");

    // A job that can't be read at all (every read fails): after the retries the items move on.
    resetFaults(providers);
    providers.openai.hold();
    const second = await mustCreate(srv.base, agent.api_key, { items: makeItems(2, { prefix: "lost" }), allowed_regions: ["us"] });
    await waitFor(
      async () => ((await srv.database.db("work_units").where({ batch_id: second.id, status: "submitted" }).first()) ? true : undefined),
      10_000,
      "the unit at the provider",
    );
    providers.openai.setFaults({ failBatches: 100_000, kinds: ["500"] });
    const done = await untilTerminal(srv.base, agent.api_key, second.id, 60_000);
    expect(done.status).toBe("completed");
    const receipt = (await call(srv.base, "GET", `/v1/batches/${second.id}/route-receipt`, { key: agent.api_key })).body;
    expect(receipt.fallbacks.map((f: { reason: string }) => f.reason).join(" ")).toMatch(/could not be read|submit failed/);
    providers.openai.release();
  });

  it("a provider answers malformed JSONL: the unreadable item is retried on its lane and completes, billed once", async () => {
    const agent = await liveAgent();
    const items = [...OA(6), ...AN(6)];
    providers.openai.setFaults({ malformedOutput: true });
    providers.anthropic.setFaults({ malformedResults: true });
    const seenBatches = new Set(providers.openai.state.batches.keys());
    const seenRequests = providers.anthropic.requests.length;
    const batch = await mustCreate(srv.base, agent.api_key, { items });
    // One corrupt file each: once it has been written (OpenAI) or sent (Anthropic), the providers heal.
    await waitFor(
      () => {
        const written = [...providers.openai.state.batches.values()].some(
          (b) => !seenBatches.has(b.wire.id) && b.wire.status === "completed",
        );
        if (written) providers.openai.setFaults({ malformedOutput: false });
        const sent = providers.anthropic.requests.slice(seenRequests).some((r) => r.op === "results" && r.status === 200);
        if (sent) providers.anthropic.setFaults({});
        return written && sent ? true : undefined;
      },
      15_000,
      "each provider's first results",
      10,
    );
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 30_000);
    expect(done.status).toBe("completed");

    const results = await allResults(srv.base, agent.api_key, batch.id);
    expectOneResultEach(results, ids(items));
    for (const r of results) {
      expect(r.status).toBe("completed");
      // Joined to the right item: the fakes echo the prompt, which names the item's own ticket.
      expect(r.output.text).toContain(`#${r.customer_item_id.split("-")[1]}`);
    }
    const receipt = await receiptOf(agent.api_key, batch.id);
    expect(receipt.fallbacks).toEqual([]);
    expect(receipt.retries.map((r: { lane_id: string; item_count: number }) => `${r.lane_id} ${r.item_count}`).sort()).toEqual([
      "anthropic/claude-haiku-4/us/batch 1",
      "openai/gpt-4o-mini/us/batch 1",
    ]);
    // The provider did run the corrupt line's request, so it ran twice there (one per provider); the
    // customer still pays each item once.
    const runs = [...providerRuns(providers, batch.id).values()];
    expect(runs.filter((n) => n === 2)).toHaveLength(2);
    expect(runs.filter((n) => n > 2)).toEqual([]);
    await expectMoneyOnce(agent.org_id, batch.id);
  }, 60_000);
});
