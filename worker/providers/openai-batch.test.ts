import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { type OpenAiFake, startOpenAiFake } from "../../test/fakes/openai-fake.js";
import { DEFAULT_FAULTS } from "../../test/fakes/openai-fake-faults.js";
import { openAiBatchAdapter } from "./openai-batch.js";
import { openAiHttp } from "./openai-http.js";
import { testLane } from "./test-fixtures.js";
import type { ItemResult, ProviderAdapter, ProviderJobRef, SubmitRequest, WorkUnitItem } from "./types.js";
import { ProviderError } from "./types.js";

// The OpenAI Batch adapter against a loopback fake of OpenAI's Files and Batch API (test/fakes,
// written from the public protocol and checked with the official SDK).

const KEY = "sk-test-openai-batch-adapter";
let fake: OpenAiFake;
let endpoint: ProviderEndpoint;
beforeAll(async () => {
  fake = await startOpenAiFake({ apiKey: KEY, turnaroundMs: 30 });
  endpoint = { slug: "openai", kind: "openai", baseUrl: `${fake.baseUrl}/v1`, apiKey: KEY, maxConcurrency: 4, requestsPerMinute: 0 };
});
afterAll(async () => fake?.close());
afterEach(() => {
  fake.setFaults(DEFAULT_FAULTS); // setFaults merges: put every knob back
  fake.release();
});

const lane = testLane({ provider: "openai", model: "gpt-4o-mini" });

function chatItem(i: number, text = `ticket ${i}`, extra: object = {}): WorkUnitItem {
  return {
    item_id: `bat_test:${i}`,
    customer_item_id: `c-${i}`,
    operation: "responses",
    model: "gpt-4o-mini",
    attempt: 1,
    item: { customer_item_id: `c-${i}`, input: { messages: [{ role: "user", content: text }] }, ...extra },
  };
}

function responsesItem(i: number): WorkUnitItem {
  return { ...chatItem(i), item: { customer_item_id: `c-${i}`, input: { input: `responses ${i}`, instructions: "be brief" } } };
}

function embeddingItem(i: number): WorkUnitItem {
  return { ...chatItem(i), operation: "embeddings", item: { customer_item_id: `c-${i}`, input: { input: [`doc ${i}`] } } };
}

// Each submit its own unit, as in the worker: a repeated unit id would adopt an earlier test's batches.
let units = 0;
const request = (items: WorkUnitItem[], l = lane): SubmitRequest => ({ work_unit_id: `wu_test_${++units}`, lane: l, items });

async function untilDone(adapter: ProviderAdapter, ref: ProviderJobRef) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const p = await adapter.poll(ref);
    if (p.status !== "in_progress") return p;
    if (Date.now() > deadline) throw new Error("timed out waiting for the provider batch to end");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function run(
  items: WorkUnitItem[],
  l = lane,
): Promise<{ ref: ProviderJobRef; results: ItemResult[]; status: string; adapter: ProviderAdapter }> {
  const adapter = openAiBatchAdapter(l, endpoint);
  const req = request(items, l);
  const ref = await adapter.submit(req);
  const { status } = await untilDone(adapter, ref);
  const results: ItemResult[] = [];
  for await (const r of adapter.collect(ref, req)) results.push(r);
  return { ref, results, status, adapter };
}

const byId = (results: ItemResult[]) => new Map(results.map((r) => [r.item_id, r]));

describe("OpenAI Batch adapter", () => {
  it("runs chat, Responses and embeddings items as one provider batch per endpoint, joined on custom_id", async () => {
    const items = [...Array.from({ length: 6 }, (_, i) => chatItem(i)), responsesItem(6), responsesItem(7), embeddingItem(8)];
    const filesBefore = fake.state.files.size;
    const { ref, results, status, adapter } = await run(items);
    expect(status).toBe("completed");
    expect((ref as ProviderJobRef & { parts: unknown[] }).parts).toHaveLength(3);
    expect(results).toHaveLength(items.length);
    expect(new Set(results.map((r) => r.item_id)).size).toBe(items.length);
    const got = byId(results);
    for (let i = 0; i < 6; i++) {
      const r = got.get(`bat_test:${i}`)!;
      expect(r.status).toBe("completed");
      // The fake echoes the prompt: a result joined to the wrong item would show another ticket.
      expect((r.output as { text: string }).text).toContain(`ticket ${i}`);
      expect(r.usage.input_tokens).toBeGreaterThan(0);
      expect(r.usage.output_tokens).toBeGreaterThan(0);
    }
    expect((got.get("bat_test:6")!.output as { text: string }).text).toContain("responses 6");
    expect((got.get("bat_test:8")!.output as { dimensions: number }).dimensions).toBeGreaterThan(0);
    // The provider keeps its files until the worker has committed every result; then they go.
    expect(fake.state.files.size).toBeGreaterThan(filesBefore);
    await adapter.release?.(ref);
    expect(fake.state.files.size).toBe(filesBefore);
  });

  it("sends the lane's model name and the item's output cap, and splits a unit past the provider's request limit", async () => {
    const small = testLane({
      provider: "openai",
      model: "gpt-4o-mini",
      served_as: "gpt-4o-mini-2024-07-18",
      batch_limits: { max_requests: 2, max_bytes: 1_000_000 },
    });
    const items = Array.from({ length: 5 }, (_, i) => chatItem(i, `t${i}`, { max_output_tokens: 7 }));
    const { ref, results } = await run(items, small);
    expect((ref as ProviderJobRef & { parts: unknown[] }).parts).toHaveLength(3);
    expect(results.filter((r) => r.status === "completed")).toHaveLength(5);
    const batches = [...fake.state.batches.values()].slice(-3);
    for (const b of batches) {
      for (const line of b.lines) expect(line.body).toMatchObject({ model: "gpt-4o-mini-2024-07-18", max_completion_tokens: 7 });
    }
  });

  it("fails a refused request for good, retries a provider error, and never bills a failure", async () => {
    const { results } = await run([
      chatItem(0, "ok"),
      chatItem(1, "[fail:400] no"),
      chatItem(2, "[fail:500] busy"),
      chatItem(3, "[fail:content_policy] x"),
    ]);
    const got = byId(results);
    expect(got.get("bat_test:0")!.status).toBe("completed");
    expect(got.get("bat_test:1")).toMatchObject({
      status: "failed",
      retryable: false,
      error: { code: "invalid_input", provider_status: 400 },
    });
    expect(got.get("bat_test:2")).toMatchObject({
      status: "failed",
      retryable: true,
      error: { code: "provider_error", provider_status: 500 },
    });
    expect(got.get("bat_test:3")).toMatchObject({ status: "failed", retryable: false, error: { code: "content_policy" } });
    for (const r of results.filter((x) => x.status === "failed")) expect(r.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  });

  it("treats token_limit_exceeded as a lane at capacity: every item comes back retryable", async () => {
    fake.setFaults({ tokenLimitExceeded: true });
    const { results, status } = await run([chatItem(0), chatItem(1)]);
    expect(status).toBe("failed");
    for (const r of results) expect(r).toMatchObject({ status: "failed", retryable: true, error: { code: "rate_limited" } });
  });

  it("keeps the finished items of an expired batch and sends the rest again", async () => {
    fake.setFaults({ expire: true, expireAfterFraction: 0.5 });
    const { results, status } = await run(Array.from({ length: 6 }, (_, i) => chatItem(i)));
    expect(status).toBe("expired");
    expect(results).toHaveLength(6);
    expect(results.filter((r) => r.status === "completed")).toHaveLength(3);
    for (const r of results.filter((x) => x.status === "failed")) expect(r).toMatchObject({ retryable: true, error: { code: "expired" } });
  });

  it("survives a malformed output line (that item is retried) and upper-case statuses", async () => {
    fake.setFaults({ malformedOutput: true, upperCaseStatuses: true });
    const { results, status } = await run(Array.from({ length: 5 }, (_, i) => chatItem(i)));
    expect(status).toBe("completed");
    expect(results).toHaveLength(5);
    const failed = results.filter((r) => r.status === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ retryable: true, error: { code: "provider_error" } });
  });

  it("cancels at the provider: what finished is kept, the rest comes back cancelled", async () => {
    fake.hold();
    const adapter = openAiBatchAdapter(lane, endpoint);
    const req = request(Array.from({ length: 4 }, (_, i) => chatItem(i)));
    const ref = await adapter.submit(req);
    await adapter.cancel(ref);
    fake.release();
    expect((await untilDone(adapter, ref)).status).toBe("cancelled");
    const results: ItemResult[] = [];
    for await (const r of adapter.collect(ref, req)) results.push(r);
    expect(results).toHaveLength(4);
    for (const r of results.filter((x) => x.status === "failed"))
      expect(r).toMatchObject({ retryable: false, error: { code: "cancelled" } });
  });

  it("a unit whose second provider batch is refused leaves nothing running or stored at the provider", async () => {
    const http = openAiHttp(endpoint);
    let creates = 0;
    const failing: typeof http = {
      ...http,
      json: (method, path, body) => {
        if (method === "POST" && path === "/batches" && ++creates === 2) {
          return Promise.reject(new ProviderError({ code: "rate_limited", status: 429, message: "slow down" }));
        }
        return http.json(method, path, body);
      },
    };
    const filesBefore = fake.state.files.size;
    const batchesBefore = new Set(fake.state.batches.keys());
    const adapter = openAiBatchAdapter(lane, endpoint, failing);
    const err = await adapter.submit(request([chatItem(0), responsesItem(1)])).catch((e: unknown) => e);
    expect(err).toMatchObject({ retryable: true, status: 429 });
    const created = [...fake.state.batches.values()].filter((b) => !batchesBefore.has(b.wire.id));
    expect(created).toHaveLength(1);
    expect(["cancelling", "cancelled"]).toContain(created[0]!.wire.status);
    expect(fake.state.files.size).toBe(filesBefore);
  });

  it("speaks Azure OpenAI's paths, api-version and api-key header to an Azure endpoint", async () => {
    const azure: ProviderEndpoint = {
      ...endpoint,
      slug: "azure-openai",
      kind: "azure-openai",
      baseUrl: fake.baseUrl,
      apiVersion: "2024-10-21",
    };
    const adapter = openAiBatchAdapter(testLane({ provider: "azure-openai", model: "gpt-4o-mini" }), azure);
    const req = request([chatItem(0), chatItem(1)]);
    const ref = await adapter.submit(req);
    expect((await untilDone(adapter, ref)).status).toBe("completed");
    const results: ItemResult[] = [];
    for await (const r of adapter.collect(ref, req)) results.push(r);
    expect(results.map((r) => r.status)).toEqual(["completed", "completed"]);
    const azureCalls = fake.requests.filter((r) => r.path.startsWith("/openai/"));
    expect(azureCalls.length).toBeGreaterThan(0);
    for (const c of azureCalls) expect(c.query).toContain("api-version=2024-10-21");
  });

  it("turns a 429 into a retryable error with the provider's Retry-After, and a bad key into a permanent one that never shows the key", async () => {
    fake.setFaults({ failFiles: 1, kinds: ["429"], retryAfterSeconds: 3 });
    const adapter = openAiBatchAdapter(lane, endpoint);
    const err = await adapter.submit(request([chatItem(0)])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: true, status: 429, retryAfterMs: 3000 });

    const wrong = openAiBatchAdapter(lane, { ...endpoint, apiKey: "sk-wrong-key-1234567890" });
    const denied = (await wrong.submit(request([chatItem(0)])).catch((e: unknown) => e)) as ProviderError;
    expect(denied).toMatchObject({ retryable: false, status: 401, code: "unauthorized" });
    expect(denied.message).not.toContain("sk-wrong-key-1234567890");
    expect(wrong.classify(denied)).toBe("permanent");
  });
});
