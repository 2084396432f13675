import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AnthropicFake, countInputTokens, startAnthropicFake } from "../../test/fakes/anthropic-fake.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { anthropicBatchAdapter } from "./anthropic-batch.js";
import { CUSTOM_ID, customIds } from "./anthropic-batch-results.js";
import { anthropicParams, DEFAULT_MAX_TOKENS } from "./anthropic-requests.js";
import { chatItem, collectAll, request, testLane, workItem } from "./test-fixtures.js";
import {
  ProviderError,
  type ItemResult,
  type ProgressReport,
  type ProviderAdapter,
  type ProviderJobRef,
  type TextOutput,
  type WorkUnitItem,
} from "./types.js";

// The adapter against the loopback fake of Anthropic's API (test/fakes/anthropic-fake.ts), which
// shuffles results, runs `[fail:…]` triggers as errored results and injects faults on demand.

const lane = testLane({ provider: "anthropic", model: "claude-haiku-4", protocol: "anthropic-batch", served_as: "claude-haiku-5-5" });
const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
const lookup = {
  type: "function",
  function: { name: "lookup", description: "Finds an order", parameters: { type: "object", properties: { id: { type: "string" } } } },
};

let fake: AnthropicFake;
let adapter: ProviderAdapter;
const endpointOf = (apiKey: string): ProviderEndpoint => ({
  slug: "anthropic",
  kind: "anthropic",
  baseUrl: fake.baseUrl,
  apiKey,
  maxConcurrency: 4,
  requestsPerMinute: 0,
});

beforeAll(async () => {
  fake = await startAnthropicFake({ apiKey: "sk-ant-adapter-test-key", turnaroundMs: 20, models: ["claude-haiku-5-5"] });
  adapter = anthropicBatchAdapter(lane, endpointOf(fake.apiKey));
});
afterAll(() => fake.close());
afterEach(() => {
  fake.setFaults({});
  fake.release();
});

/** Items with the worker's id shape, `bat_…:idx`. */
const asUnit = (items: WorkUnitItem[]) => items.map((it, i) => ({ ...it, item_id: `bat_01TEST:${i}` }));
const chats = (n: number) => asUnit(Array.from({ length: n }, (_, i) => chatItem(`c${i}`, `Question number ${i}: why is the sky blue?`)));
/** A ref's parts (the index signature of ProviderJobRef types them unknown). */
const partsOf = (ref: ProviderJobRef) => ref.parts as { batch_id: string; first: number; count: number }[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the job leaves in_progress, or fails the test at the deadline. */
async function waitFor(ref: ProviderJobRef, a = adapter, deadlineMs = 5000): Promise<ProgressReport> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const p = await a.poll(ref);
    if (p.status !== "in_progress") return p;
    await sleep(10);
  }
  throw new Error(`job ${ref.provider_job_id} still in progress after ${deadlineMs} ms`);
}

async function run(items: WorkUnitItem[], l = lane) {
  const req = request(items, l);
  const ref = await adapter.submit(req);
  const progress = await waitFor(ref);
  const results = await collectAll(adapter, ref, req);
  return { req, ref, progress, results, byId: new Map(results.map((r) => [r.item_id, r])) };
}

const expectEachOnce = (results: ItemResult[], items: WorkUnitItem[]) =>
  expect(results.map((r) => r.item_id).sort()).toEqual(items.map((i) => i.item_id).sort());

describe("anthropic batch adapter", () => {
  it("round-trips chat- and Responses-style items, joined on custom_id despite shuffled results", async () => {
    const items = asUnit([
      chatItem("chat", "Look up order 42 [call:lookup]", { tools: [lookup] }),
      workItem("resp", {
        operation: "vision",
        input: {
          instructions: "Describe images briefly.",
          input: [
            {
              role: "user",
              content: [
                { type: "input_text", text: "What is in this picture?" },
                { type: "input_image", image_url: PNG },
              ],
            },
          ],
          tools: [{ type: "function", name: "lookup", parameters: { type: "object" } }],
        },
      }),
      workItem("sys", {
        input: {
          messages: [
            { role: "system", content: "Be terse." },
            {
              role: "user",
              content: [
                { type: "text", text: "Name a colour" },
                { type: "image_url", image_url: { url: PNG } },
              ],
            },
          ],
        },
      }),
      ...chats(5),
    ]);
    const { ref, progress, results, byId } = await run(items);

    expect(progress).toEqual({ status: "completed", counts: { total: 8, completed: 8, failed: 0 } });
    expectEachOnce(results, items);
    // The fake streamed the lines shuffled; results follow the stream, yet each joins to its own item.
    expect(results.map((r) => r.item_id)).not.toEqual(items.map((i) => i.item_id));
    const sent = fake.state.batches.get(partsOf(ref)[0].batch_id)!.requests;
    for (const [i, it] of items.entries()) {
      const r = byId.get(it.item_id)!;
      const params = anthropicParams(it, lane);
      expect(sent[i]).toEqual({ custom_id: `bat_01TEST_${i}`, params });
      expect(r).toMatchObject({ status: "completed", error: null, customer_item_id: it.customer_item_id });
      expect(r.usage.input_tokens).toBe(countInputTokens(params)); // the provider's count, not ours
      expect(r.usage.output_tokens).toBeGreaterThan(0);
      expect((r.output as TextOutput).model).toBe("claude-haiku-5-5");
    }
    expect(byId.get("bat_01TEST:0")!.output).toMatchObject({
      finish_reason: "tool_calls",
      tool_calls: [{ type: "function", function: { name: "lookup" } }],
    });
    expect((byId.get("bat_01TEST:1")!.output as TextOutput).text).toBe("echo: What is in this picture?");
    // System text lifted to `system`, images inline as base64, tools with their schema.
    expect(sent[1].params).toMatchObject({
      model: "claude-haiku-5-5",
      system: "Describe images briefly.",
      tools: [{ name: "lookup", input_schema: { type: "object" } }],
    });
    expect(sent[2].params).toMatchObject({
      system: "Be terse.",
      messages: [{ role: "user", content: [{ type: "text" }, { type: "image", source: { type: "base64", media_type: "image/png" } }] }],
    });
    // The stored ref names batches only, never items.
    expect(JSON.stringify(ref)).not.toContain("bat_01TEST");
  });

  it("errored results: invalid is permanent invalid_input, overloaded and api errors retryable, none billed", async () => {
    const items = asUnit([
      chatItem("ok", "fine"),
      chatItem("bad", "[fail:invalid] please"),
      chatItem("busy", "[fail:overloaded]"),
      chatItem("boom", "[fail:api]"),
    ]);
    const { progress, results, byId } = await run(items);
    expect(progress).toMatchObject({ status: "completed", counts: { total: 4, completed: 1, failed: 3 } });
    expectEachOnce(results, items);
    expect(byId.get("bat_01TEST:0")!.status).toBe("completed");
    expect(byId.get("bat_01TEST:1")).toMatchObject({
      status: "failed",
      retryable: false,
      error: { code: "invalid_input", provider_status: 400 },
    });
    expect(byId.get("bat_01TEST:2")).toMatchObject({
      status: "failed",
      retryable: true,
      error: { code: "provider_error", provider_status: 529 },
    });
    expect(byId.get("bat_01TEST:3")).toMatchObject({
      status: "failed",
      retryable: true,
      error: { code: "provider_error", provider_status: 500 },
    });
    for (const r of results.filter((x) => x.status === "failed")) expect(r.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  });

  it("splits a unit into several provider batches by max_requests and by max_bytes", async () => {
    const items = chats(5);
    const byCount = await run(items, { ...lane, batch_limits: { max_requests: 2, max_bytes: 1 << 20 } });
    expect(partsOf(byCount.ref)).toEqual([
      { batch_id: expect.any(String), first: 0, count: 2 },
      { batch_id: expect.any(String), first: 2, count: 2 },
      { batch_id: expect.any(String), first: 4, count: 1 },
    ]);
    expect(byCount.progress.counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expectEachOnce(byCount.results, items);
    // One byte fits no request: each goes alone rather than being dropped.
    const bySize = await run(items, { ...lane, batch_limits: { max_requests: 100, max_bytes: 1 } });
    expect(partsOf(bySize.ref)).toHaveLength(5);
    expectEachOnce(bySize.results, items);
    expect(bySize.results.every((r) => r.status === "completed")).toBe(true);
  });

  it("an expired batch keeps its finished items and sends the rest again as expired", async () => {
    fake.setFaults({ expire: true, expireAfterFraction: 0.5 });
    const items = chats(4);
    const { progress, results, byId } = await run(items);
    expect(progress).toEqual({ status: "expired", counts: { total: 4, completed: 2, failed: 2 } });
    expectEachOnce(results, items);
    // The fake runs requests in order until the batch expires.
    for (const i of [0, 1]) expect(byId.get(`bat_01TEST:${i}`)).toMatchObject({ status: "completed" });
    for (const i of [2, 3])
      expect(byId.get(`bat_01TEST:${i}`)).toMatchObject({
        status: "failed",
        retryable: true,
        error: { code: "expired" },
        usage: { input_tokens: 0, output_tokens: 0 },
      });
  });

  it("cancel stops a held batch: results not ready before it ends, then every item cancelled", async () => {
    fake.hold();
    const items = chats(3);
    const req = request(items, lane);
    const ref = await adapter.submit(req);
    expect((await adapter.poll(ref)).status).toBe("in_progress");
    await expect(collectAll(adapter, ref, req)).rejects.toMatchObject({ code: "results_not_ready", retryable: true });
    await adapter.cancel(ref);
    const progress = await waitFor(ref);
    fake.release();
    expect(progress).toEqual({ status: "cancelled", counts: { total: 3, completed: 0, failed: 3 } });
    const results = await collectAll(adapter, ref, req);
    expectEachOnce(results, items);
    for (const r of results) expect(r).toMatchObject({ status: "failed", retryable: false, error: { code: "cancelled" } });
    await expect(adapter.cancel(ref)).resolves.toBeUndefined(); // already ended: the provider's 400 is ignored
  });

  it("a malformed results line fails only its item, retryably", async () => {
    fake.setFaults({ malformedResults: true });
    const items = chats(5);
    const { results } = await run(items);
    expectEachOnce(results, items);
    const bad = results.filter((r) => r.status === "failed");
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ retryable: true, error: { code: "provider_error" }, usage: { input_tokens: 0, output_tokens: 0 } });
  });

  it("a 429 at create is a retryable ProviderError with retryAfterMs, and nothing was created", async () => {
    fake.setFaults({ rate: 1, kinds: [429], ops: ["create"], retryAfterSeconds: 3 });
    const before = fake.state.batches.size;
    const err = await adapter.submit(request(chats(2), lane)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 429, code: "rate_limited", retryable: true, retryAfterMs: 3000 });
    expect(adapter.classify(err)).toBe("retryable");
    expect(fake.state.batches.size).toBe(before);
  });

  it("a 401 is permanent and the key never appears in the error", async () => {
    const key = "sk-ant-wrong-secret-0123456789";
    const wrong = anthropicBatchAdapter(lane, endpointOf(key));
    const err = await wrong.submit(request(chats(1), lane)).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: "unauthorized", retryable: false });
    expect(wrong.classify(err)).toBe("permanent");
    expect((err as Error).message).not.toContain(key);
    expect(JSON.stringify(err)).not.toContain(key);
  });

  it("refuses a ref that isn't its own, or that doesn't match the request", async () => {
    await expect(adapter.poll({ provider_job_id: "batch_x" })).rejects.toMatchObject({ code: "ref_mismatch", retryable: false });
    const ref = { provider_job_id: "msgbatch_x", parts: [{ batch_id: "msgbatch_x", first: 0, count: 1 }] };
    await expect(collectAll(adapter, ref, request(chats(2), lane))).rejects.toMatchObject({ code: "ref_mismatch" });
  });
});

describe("custom ids", () => {
  it("are our item ids with ':' → '_' when all fit and stay distinct, else positional", () => {
    expect(customIds([{ item_id: "bat_01AB:0" }, { item_id: "bat_01AB:1" }])).toEqual(["bat_01AB_0", "bat_01AB_1"]);
    expect(customIds([{ item_id: "a:1" }, { item_id: "a_1" }])).toEqual(["i0", "i1"]); // would collide
    expect(customIds([{ item_id: "ok:1" }, { item_id: "x".repeat(70) }])).toEqual(["i0", "i1"]); // too long
    expect(customIds([{ item_id: "bat.1:0" }])).toEqual(["i0"]);
    for (const id of customIds(chats(3))) expect(id).toMatch(CUSTOM_ID);
  });
});

describe("anthropicParams", () => {
  it("defaults max_tokens within the lane cap, clamps temperature, drops top_p beside it", () => {
    const p = anthropicParams(
      workItem("t", { input: { messages: [{ role: "user", content: "hi" }], temperature: 1.6, top_p: 0.9, stop: [" ", "END"] } }),
      lane,
    );
    expect(p).toMatchObject({ max_tokens: DEFAULT_MAX_TOKENS, temperature: 1, stop_sequences: ["END"] });
    expect(p).not.toHaveProperty("top_p");
    expect(anthropicParams(chatItem("m", "hi", { max_output_tokens: 99_999 }), lane).max_tokens).toBe(lane.max_output_tokens);
    expect(anthropicParams(chatItem("z", "hi"), { ...lane, max_output_tokens: 0 }).max_tokens).toBe(DEFAULT_MAX_TOKENS);
  });

  it("turns Responses function_call / function_call_output entries into tool_use / tool_result", () => {
    const p = anthropicParams(
      workItem("r", {
        input: {
          input: [
            { role: "user", content: "Where is order 7?" },
            { type: "function_call", call_id: "call_1", name: "lookup", arguments: '{"id":"7"}' },
            { type: "function_call_output", call_id: "call_1", output: "shipped" },
          ],
        },
      }),
      lane,
    );
    expect(p.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Where is order 7?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "lookup", input: { id: "7" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "shipped" }] },
    ]);
  });
});
