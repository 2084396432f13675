// The Anthropic fake driven only through the official @anthropic-ai/sdk: if the SDK can run the batch
// workflow against it unchanged, the fake speaks the real protocol. Faults: anthropic-fake-faults.test.ts.

import Anthropic, { AuthenticationError, type BadRequestError } from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AnthropicFake, countInputTokens, startAnthropicFake } from "./anthropic-fake.js";

type Params = Anthropic.MessageCreateParamsNonStreaming;
const MODEL = "claude-haiku-5-5";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ask = (text: string, extra: Partial<Params> = {}): Params => ({
  model: MODEL,
  max_tokens: 256,
  messages: [{ role: "user", content: text }],
  ...extra,
});
/** A params body the SDK's types would refuse: the point is to see what the API does with it. */
const raw = (p: Record<string, unknown>) => p as unknown as Params;

let fake: AnthropicFake;
let client: Anthropic;
beforeAll(async () => {
  fake = await startAnthropicFake({ apiKey: "sk-ant-test-secret-1" });
  client = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 0 });
});
afterAll(() => fake.close());
afterEach(() => fake.release());

async function waitEnded(c: Anthropic, id: string) {
  for (let i = 0; i < 300; i++) {
    const b = await c.messages.batches.retrieve(id);
    if (b.processing_status === "ended") return b;
    await sleep(10);
  }
  throw new Error(`batch ${id} never ended`);
}

async function results(c: Anthropic, id: string) {
  const out: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
  for await (const r of await c.messages.batches.results(id)) out.push(r);
  return out;
}

describe("batch lifecycle through the SDK", () => {
  it("creates, polls to ended, streams shuffled results that join on custom_id", async () => {
    const tools: Anthropic.Tool[] = [
      { name: "get_weather", description: "Weather for a city", input_schema: { type: "object", properties: {} } },
    ];
    const special: Anthropic.Messages.BatchCreateParams.Request[] = [
      { custom_id: "plain", params: ask("hello there") },
      { custom_id: "with_system", params: ask("hi", { system: "You are terse." }) },
      { custom_id: "cut", params: ask("a long prompt that surely exceeds two tokens", { max_tokens: 2 }) },
      { custom_id: "tool", params: ask("weather in Paris? [call:get_weather]", { tools }) },
      { custom_id: "no-max-tokens", params: raw({ model: MODEL, messages: [{ role: "user", content: "x" }] }) },
      { custom_id: "zero-max-tokens", params: ask("x", { max_tokens: 0 }) },
      { custom_id: "no-messages", params: raw({ model: MODEL, max_tokens: 5 }) },
      { custom_id: "temperature", params: raw({ ...ask("x"), temperature: 0.5 }) },
      { custom_id: "fail-invalid", params: ask("please [fail:invalid]") },
      { custom_id: "fail-overloaded", params: ask("please [fail:overloaded]") },
      { custom_id: "fail-api", params: ask("please [fail:api]") },
    ];
    const filler = Array.from({ length: 30 }, (_, i) => ({ custom_id: `item_${i}`, params: ask(`question number ${i}`) }));
    const requests = [...special, ...filler];

    const created = await client.messages.batches.create({ requests });
    expect(created).toMatchObject({ type: "message_batch", processing_status: "in_progress", results_url: null, ended_at: null });
    expect(created.id).toMatch(/^msgbatch_01[0-9A-Za-z]{22}$/);
    expect(created.request_counts).toEqual({ processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);

    const ended = await waitEnded(client, created.id);
    expect(ended.results_url).toBe(`${fake.baseUrl}/v1/messages/batches/${created.id}/results`);
    expect(ended.ended_at).not.toBeNull();
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 34, errored: 7, canceled: 0, expired: 0 });

    const lines = await results(client, created.id);
    expect(lines.map((l) => l.custom_id).sort()).toEqual(requests.map((r) => r.custom_id).sort());
    expect(lines.map((l) => l.custom_id)).not.toEqual(requests.map((r) => r.custom_id));
    const by = new Map(lines.map((l) => [l.custom_id, l.result]));
    const ok = (id: string) => {
      const r = by.get(id);
      if (r?.type !== "succeeded") throw new Error(`${id} did not succeed: ${JSON.stringify(r)}`);
      return r.message;
    };

    const plain = ok("plain");
    expect(plain).toMatchObject({ type: "message", role: "assistant", model: MODEL, stop_reason: "end_turn", stop_sequence: null });
    expect(plain.content).toEqual([{ type: "text", text: "echo: hello there", citations: null }]);
    expect(plain.usage).toMatchObject({ input_tokens: 3, output_tokens: 5, service_tier: "batch" }); // ceil(11/4), ceil(17/4)
    expect(ok("with_system").usage.input_tokens).toBe(4); // "You are terse." + "hi" = 16 chars
    const cut = ok("cut");
    expect(cut.stop_reason).toBe("max_tokens");
    expect(cut.usage.output_tokens).toBe(2);
    const tool = ok("tool");
    expect(tool.stop_reason).toBe("tool_use");
    expect(tool.content[1]).toMatchObject({ type: "tool_use", name: "get_weather", input: {} });
    expect(tool.usage.input_tokens).toBe(countInputTokens({ ...ask("weather in Paris? [call:get_weather]"), tools }));

    const errored = (id: string) => {
      const r = by.get(id);
      if (r?.type !== "errored") throw new Error(`${id} did not error: ${JSON.stringify(r)}`);
      expect(r.error.type).toBe("error");
      return r.error.error;
    };
    expect(errored("no-max-tokens")).toEqual({ type: "invalid_request_error", message: "max_tokens: Field required" });
    expect(errored("zero-max-tokens").message).toMatch(/max_tokens/);
    expect(errored("no-messages").message).toBe("messages: Field required");
    expect(errored("temperature").message).toMatch(/^temperature:/); // removed in 2026-10-21, which SDK 1.x sends
    expect(errored("fail-invalid").type).toBe("invalid_request_error");
    expect(errored("fail-overloaded").type).toBe("overloaded_error");
    expect(errored("fail-api").type).toBe("api_error");
  });

  it("validates a system-role message by the batch's anthropic-version", async () => {
    const v2023 = new Anthropic({
      apiKey: fake.apiKey,
      baseURL: fake.baseUrl,
      maxRetries: 0,
      defaultHeaders: { "anthropic-version": "2023-06-01" },
    });
    const params = raw({
      model: MODEL,
      max_tokens: 50,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
    });
    const old = await v2023.messages.batches.create({
      requests: [
        { custom_id: "sys", params },
        { custom_id: "temp", params: raw({ ...ask("x"), temperature: 0.2 }) },
      ],
    });
    expect(fake.requests.at(-1)?.headers["anthropic-version"]).toBe("2023-06-01");
    const neu = await client.messages.batches.create({ requests: [{ custom_id: "sys", params }] });
    expect(fake.requests.at(-1)?.headers["anthropic-version"]).toBe("2026-10-21");

    await waitEnded(v2023, old.id);
    const o = await results(v2023, old.id);
    const sys = o.find((l) => l.custom_id === "sys")?.result;
    expect(sys?.type === "errored" && sys.error.error.message).toMatch(/Unexpected role "system"/);
    expect(o.find((l) => l.custom_id === "temp")?.result.type).toBe("succeeded");
    const [n] = await results(client, (await waitEnded(client, neu.id)).id);
    expect(n.result.type === "succeeded" && n.result.message.usage.input_tokens).toBe(3); // "Be brief." + "hi"
  });

  it("streams results only once ended: the SDK refuses early, the endpoint answers 400", async () => {
    fake.hold();
    const b = await client.messages.batches.create({ requests: [{ custom_id: "a", params: ask("x") }] });
    await sleep(80);
    expect((await client.messages.batches.retrieve(b.id)).processing_status).toBe("in_progress");
    await expect(client.messages.batches.results(b.id)).rejects.toThrow(/results_url/);
    const early = await client.get(`/v1/messages/batches/${b.id}/results`).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(Anthropic.BadRequestError);
    fake.release();
    expect((await waitEnded(client, b.id)).request_counts.succeeded).toBe(1);
  });

  it("cancels: canceling, then ended with every unfinished request canceled; deletes only once ended", async () => {
    fake.hold();
    const b = await client.messages.batches.create({ requests: ["a", "b", "c"].map((id) => ({ custom_id: id, params: ask(id) })) });
    const canceling = await client.messages.batches.cancel(b.id);
    expect(canceling.processing_status).toBe("canceling");
    expect(canceling.cancel_initiated_at).not.toBeNull();
    await expect(client.messages.batches.delete(b.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const ended = await waitEnded(client, b.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 0, errored: 0, canceled: 3, expired: 0 });
    expect((await results(client, b.id)).map((l) => l.result)).toEqual([{ type: "canceled" }, { type: "canceled" }, { type: "canceled" }]);
    await expect(client.messages.batches.cancel(b.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    expect(await client.messages.batches.delete(b.id)).toEqual({ id: b.id, type: "message_batch_deleted" });
    await expect(client.messages.batches.retrieve(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    expect(fake.state.batches.has(b.id)).toBe(false);
  });

  it("answers the synchronous Messages API and token counting", async () => {
    const msg = await client.messages.create(ask("What is the capital of France?", { system: "Be brief." }));
    expect(msg.content).toEqual([{ type: "text", text: "echo: What is the capital of France?", citations: null }]);
    expect(msg.id).toMatch(/^msg_01/);
    expect(msg.usage).toMatchObject({ input_tokens: 10, output_tokens: 9, service_tier: "standard" });
    const counted = await client.messages.countTokens({
      model: MODEL,
      system: "Be brief.",
      messages: [{ role: "user", content: "What is the capital of France?" }],
    });
    expect(counted.input_tokens).toBe(10);
    await expect(client.messages.create(ask("x [fail:overloaded]"))).rejects.toBeInstanceOf(Anthropic.OverloadedError);
    await expect(client.messages.create(raw({ model: MODEL, messages: [] }))).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });
});

describe("listing", () => {
  let own: AnthropicFake;
  let c: Anthropic;
  let ids: string[]; // oldest first
  beforeAll(async () => {
    own = await startAnthropicFake();
    c = new Anthropic({ apiKey: own.apiKey, baseURL: own.baseUrl, maxRetries: 0 });
    ids = [];
    for (let i = 0; i < 5; i++)
      ids.push((await c.messages.batches.create({ requests: [{ custom_id: `r${i}`, params: ask(`n${i}`) }] })).id);
  });
  afterAll(() => own.close());
  const newestFirst = () => [...ids].reverse();

  it("pages newest first with after_id and before_id", async () => {
    const p1 = await c.messages.batches.list({ limit: 2 });
    expect(p1.data.map((b) => b.id)).toEqual(newestFirst().slice(0, 2));
    expect(p1).toMatchObject({ has_more: true, first_id: ids[4], last_id: ids[3] });
    const p2 = await c.messages.batches.list({ limit: 2, after_id: ids[3] });
    expect(p2.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    const last = await c.messages.batches.list({ limit: 2, after_id: ids[1] });
    expect(last.data.map((b) => b.id)).toEqual([ids[0]]);
    expect(last.has_more).toBe(false);
    const back = await c.messages.batches.list({ limit: 2, before_id: ids[0] });
    expect(back.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(back.has_more).toBe(true);
    expect((await c.messages.batches.list()).data).toHaveLength(5); // default limit 20
  });

  it("auto-paginates both ways in the SDK", async () => {
    const forward: string[] = [];
    for await (const b of c.messages.batches.list({ limit: 2 })) forward.push(b.id);
    expect(forward).toEqual(newestFirst());
    const backward: string[] = [];
    for await (const b of c.messages.batches.list({ limit: 2, before_id: ids[0] })) backward.push(b.id);
    expect(backward).toEqual([ids[2], ids[1], ids[4], ids[3]]);
    expect(own.requests.filter((r) => r.op === "list").length).toBeGreaterThanOrEqual(7);
  });

  it("refuses a limit outside 1..1000", async () => {
    for (const limit of [0, 1001]) await expect(c.messages.batches.list({ limit })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });
});

describe("create-time validation and auth", () => {
  it("answers 400 for a bad or duplicate custom_id, an empty batch, or too many requests", async () => {
    for (const bad of ["has space", "x".repeat(65), "dot.ted", ""]) {
      const err = await client.messages.batches.create({ requests: [{ custom_id: bad, params: ask("x") }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as BadRequestError).error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    }
    const dup = [
      { custom_id: "same", params: ask("x") },
      { custom_id: "same", params: ask("y") },
    ];
    await expect(client.messages.batches.create({ requests: dup })).rejects.toThrow(/Duplicate custom_id/);
    await expect(client.messages.batches.create({ requests: [] })).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const small = await startAnthropicFake({ maxRequests: 2, maxBytes: 4096 });
    const sc = new Anthropic({ apiKey: small.apiKey, baseURL: small.baseUrl, maxRetries: 0 });
    const three = ["a", "b", "c"].map((id) => ({ custom_id: id, params: ask(id) }));
    await expect(sc.messages.batches.create({ requests: three })).rejects.toThrow(/at most 2 items/);
    const big = [{ custom_id: "big", params: ask("x".repeat(5000)) }];
    await expect(sc.messages.batches.create({ requests: big })).rejects.toBeInstanceOf(Anthropic.ContentTooLargeError);
    await small.close();
  });

  it("answers 401 authentication_error for a wrong key and never records a key", async () => {
    const wrong = new Anthropic({ apiKey: "sk-ant-wrong-key-zzz", baseURL: fake.baseUrl, maxRetries: 0 });
    const err = await wrong.messages.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const log = JSON.stringify(fake.requests);
    expect(log).not.toContain("sk-ant-wrong-key-zzz");
    expect(log).not.toContain(fake.apiKey);
    expect(fake.requests.at(-1)).toMatchObject({ auth: "bearer", status: 401 });
  });

  it("accepts the key as x-api-key too, and requires a known anthropic-version", async () => {
    const viaHeader = new Anthropic({ apiKey: null, baseURL: fake.baseUrl, maxRetries: 0, defaultHeaders: { "x-api-key": fake.apiKey } });
    await viaHeader.messages.batches.list();
    expect(fake.requests.at(-1)).toMatchObject({ auth: "x-api-key", status: 200 });
    const noVersion = new Anthropic({
      apiKey: fake.apiKey,
      baseURL: fake.baseUrl,
      maxRetries: 0,
      defaultHeaders: { "anthropic-version": null },
    });
    await expect(noVersion.messages.batches.list()).rejects.toThrow(/anthropic-version/);
    const oddVersion = new Anthropic({
      apiKey: fake.apiKey,
      baseURL: fake.baseUrl,
      maxRetries: 0,
      defaultHeaders: { "anthropic-version": "2020-01-01" },
    });
    await expect(oddVersion.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });
});
