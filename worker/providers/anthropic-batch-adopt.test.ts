import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnthropicFake, startAnthropicFake } from "../../test/fakes/anthropic-fake.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { earlierBatches, partDigest } from "./anthropic-batch-adopt.js";
import { anthropicBatchAdapter } from "./anthropic-batch.js";
import { anthropicHttp } from "./anthropic-http.js";
import { customIds } from "./anthropic-batch-results.js";
import { chatItem, request, testLane } from "./test-fixtures.js";
import type { Intent, SubmitJournal, SubmitRequest } from "./types.js";

// Which earlier batch a resubmit may take for a part (anthropic-batch-adopt.ts), against the loopback
// fake and an in-memory journal: the database's side is covered by test/providers-resubmit-anthropic.

const lane = testLane({ provider: "anthropic", model: "claude-haiku-4", protocol: "anthropic-batch", served_as: "claude-haiku-5-5" });
let fake: AnthropicFake;
let endpoint: ProviderEndpoint;
beforeAll(async () => {
  fake = await startAnthropicFake({ apiKey: "sk-ant-adopt-test-key", turnaroundMs: 20, models: ["claude-haiku-5-5"] });
  endpoint = { slug: "anthropic", kind: "anthropic", baseUrl: fake.baseUrl, apiKey: fake.apiKey, maxConcurrency: 4, requestsPerMinute: 0 };
});
afterAll(() => fake.close());

/** The journal's contract in memory; `others` are batch ids other units' intents hold. */
function memoryJournal(intents: Intent[], others: string[] = []) {
  const settled = new Set<string>();
  let next = 1000;
  const journal: SubmitJournal = {
    earlier: async () => intents.filter((i) => !settled.has(i.id)),
    intend: async (p) => {
      const i = { id: String(next++), ...p, created_at: new Date(), provider_batch_id: null, found: false };
      intents.push(i);
      return i;
    },
    created: async (id, batchId) => {
      Object.assign(intents.find((i) => i.id === id) ?? {}, { provider_batch_id: batchId });
    },
    claim: async (id, batchId) => {
      if (others.includes(batchId) || intents.some((i) => i.provider_batch_id === batchId)) return false;
      Object.assign(intents.find((i) => i.id === id) ?? {}, { provider_batch_id: batchId, found: true });
      return true;
    },
    held: async (ids) => new Set(ids.filter((id) => others.includes(id) || intents.some((i) => i.provider_batch_id === id))),
    settle: async (ids) => {
      for (const id of ids) settled.add(id);
    },
  };
  return { journal, settled };
}

const lostIntent = (n: number, at = new Date()): Intent => ({
  id: "1",
  part: 0,
  item_count: n,
  items_digest: "d",
  created_at: at,
  provider_batch_id: null,
  found: false,
});
/** A batch of `n` requests by someone, straight at the fake. */
const someBatch = async (n: number, tag: string) => {
  const res = await fetch(`${fake.baseUrl}/v1/messages/batches`, {
    method: "POST",
    headers: { "x-api-key": fake.apiKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({
      requests: Array.from({ length: n }, (_, i) => ({
        custom_id: `${tag}_${i}`,
        params: { model: "claude-haiku-5-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] },
      })),
    }),
  });
  return ((await res.json()) as { id: string }).id;
};
const touched = (id: string) => fake.requests.filter((r) => r.path.includes(id) && r.method !== "GET");

describe("finding a lost create's batch", () => {
  it("takes the one unclaimed batch of the right size made around the intent, provisionally", async () => {
    const held = await someBatch(7, "held");
    await someBatch(8, "bigger");
    const ours = await someBatch(7, "ours");
    const { journal } = memoryJournal([lostIntent(7)], [held]);
    const found = await earlierBatches(anthropicHttp(endpoint), journal);
    expect([...found.values()].map((e) => [e.batch_id, e.provisional])).toEqual([[ours, true]]);
  });

  it("adopts nothing, and touches nothing, when two batches could be ours", async () => {
    const a = await someBatch(9, "a");
    const b = await someBatch(9, "b");
    const { journal, settled } = memoryJournal([lostIntent(9)]);
    expect((await earlierBatches(anthropicHttp(endpoint), journal)).size).toBe(0);
    expect([...settled]).toEqual(["1"]); // not looked for again: the part goes out afresh
    expect([...touched(a), ...touched(b)]).toEqual([]);
  });

  it("ignores batches made long before the intent (beyond the clock skew)", async () => {
    await someBatch(10, "old");
    const { journal } = memoryJournal([lostIntent(10, new Date(Date.now() + 30 * 60_000))]);
    expect((await earlierBatches(anthropicHttp(endpoint), journal)).size).toBe(0);
  });
});

describe("a batch the create named (ours by evidence)", () => {
  const items = Array.from({ length: 3 }, (_, i) => ({ ...chatItem(`k${i}`, `q${i}`), item_id: `bat_ADOPT:${i}` }));
  const named = (batchId: string, digest: string): Intent => ({
    id: "1",
    part: 0,
    item_count: 3,
    items_digest: digest,
    created_at: new Date(),
    provider_batch_id: batchId,
    found: false,
  });

  it("is adopted for the same items, without a second create", async () => {
    const batchId = await someBatch(3, "named");
    const { journal } = memoryJournal([named(batchId, partDigest(customIds(items)))]);
    const before = fake.requests.filter((r) => r.op === "create").length;
    const req: SubmitRequest = { ...request(items, lane), resubmit: true, journal };
    const ref = await anthropicBatchAdapter(lane, endpoint).submit(req);
    expect(ref.provider_job_id).toBe(batchId);
    expect(fake.requests.filter((r) => r.op === "create").length).toBe(before);
  });

  it("is cancelled, not adopted, when it holds other items than the part now sent", async () => {
    fake.hold();
    try {
      const batchId = await someBatch(3, "stale");
      const { journal, settled } = memoryJournal([named(batchId, "not-these-items")]);
      const req: SubmitRequest = { ...request(items, lane), resubmit: true, journal };
      const ref = await anthropicBatchAdapter(lane, endpoint).submit(req);
      expect(ref.provider_job_id).not.toBe(batchId);
      expect(fake.state.batches.get(batchId)?.status).toBe("canceling");
      expect(settled.has("1")).toBe(true);
    } finally {
      fake.release();
    }
  });
});
