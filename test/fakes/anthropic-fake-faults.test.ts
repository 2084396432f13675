// Fault injection in the Anthropic fake, seen through the official SDK: each fault must surface as the
// SDK error class (or retry) that the real service's answer would produce.

import Anthropic, { type APIError, RateLimitError } from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AnthropicFake, startAnthropicFake } from "./anthropic-fake.js";

const MODEL = "claude-haiku-5-5";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reqs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `req_${i}`,
    params: { model: MODEL, max_tokens: 64, messages: [{ role: "user" as const, content: `q${i}` }] },
  }));

let fake: AnthropicFake;
let client: Anthropic;
beforeAll(async () => {
  fake = await startAnthropicFake({ apiKey: "sk-ant-faults-key" });
  client = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 0 });
});
afterAll(() => fake.close());
afterEach(() => {
  fake.setFaults({});
  fake.release();
});

async function waitEnded(id: string, c = client) {
  for (let i = 0; i < 300; i++) {
    const b = await c.messages.batches.retrieve(id);
    if (b.processing_status === "ended") return b;
    await sleep(10);
  }
  throw new Error(`batch ${id} never ended`);
}

describe("control-plane faults", () => {
  it("429 is a RateLimitError carrying retry-after and Anthropic's envelope", async () => {
    fake.setFaults({ rate: 1, kinds: [429], retryAfterSeconds: 7 });
    const err = await client.messages.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    const e = err as RateLimitError;
    expect(e.headers.get("retry-after")).toBe("7");
    expect(e.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
    expect(e.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" }, request_id: expect.stringMatching(/^req_/) });
    expect(e.requestID).toMatch(/^req_/);
    expect(fake.requests.at(-1)).toMatchObject({ op: "list", status: 429, fault: 429 });
  });

  it("529 is an OverloadedError and 500 an InternalServerError", async () => {
    fake.setFaults({ rate: 1, kinds: [529] });
    const overloaded = await client.messages.batches.create({ requests: reqs(1) }).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.OverloadedError);
    expect((overloaded as APIError).status).toBe(529);
    fake.setFaults({ rate: 1, kinds: [500] });
    await expect(client.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    expect(fake.state.batches.size).toBe(0); // a refused create made nothing
  });

  it("timeout holds the socket then drops it: a connection error, or the client's own timeout first", async () => {
    fake.setFaults({ rate: 1, kinds: ["timeout"], timeoutMs: 30 });
    await expect(client.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.APIConnectionError);
    fake.setFaults({ rate: 1, kinds: ["timeout"], timeoutMs: 5000 });
    const started = Date.now();
    const impatient = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 0, timeout: 100 });
    await expect(impatient.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("loseCreates: the batch is made, the answer never comes; the list (paged with after_id) shows it", async () => {
    fake.setFaults({ loseCreates: 1 });
    const before = fake.state.batches.size;
    await expect(client.messages.batches.create({ requests: reqs(3) })).rejects.toBeInstanceOf(Anthropic.APIConnectionError);
    expect(fake.requests.at(-1)).toMatchObject({ op: "create", fault: "lost_answer" });
    expect(fake.state.batches.size).toBe(before + 1);
    const next = await client.messages.batches.create({ requests: reqs(2) }); // once only
    // Newest first, one a page: the lost batch is the second, reached through the SDK's own paging.
    const first = await client.messages.batches.list({ limit: 1 });
    expect(first.data.map((b) => b.id)).toEqual([next.id]);
    expect(first.has_more).toBe(true);
    const second = await first.getNextPage();
    const lost = second.data[0]!;
    expect(lost.id).not.toBe(next.id);
    expect(Object.values(lost.request_counts).reduce((n, c) => n + c, 0)).toBe(3);
    expect(Date.parse(lost.created_at)).toBeLessThanOrEqual(Date.parse(next.created_at));
  });

  it("the SDK's retries get through once `count` faults are spent, honouring retry-after", async () => {
    fake.setFaults({ rate: 1, count: 2, kinds: [429], retryAfterSeconds: 0.01 });
    const patient = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 3 });
    const before = fake.requests.length;
    const b = await patient.messages.batches.create({ requests: reqs(2) });
    const attempts = fake.requests.slice(before);
    expect(attempts.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(attempts.map((r) => r.headers["x-stainless-retry-count"])).toEqual(["0", "1", "2"]);
    expect([...fake.state.batches.keys()]).toContain(b.id);
  });

  it("a seeded rate repeats the same pattern, and `ops` narrows which calls fault", async () => {
    const pattern = async () => {
      fake.setFaults({ rate: 0.5, seed: 7, kinds: [500] });
      const out: boolean[] = [];
      for (let i = 0; i < 16; i++)
        out.push(
          await client.messages.batches.list().then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const first = await pattern();
    expect(first).toContain(true);
    expect(first).toContain(false);
    expect(await pattern()).toEqual(first);

    fake.setFaults({});
    const b = await client.messages.batches.create({ requests: reqs(1) });
    await waitEnded(b.id);
    fake.setFaults({ rate: 1, kinds: [500], ops: ["results"] });
    await expect(client.messages.batches.results(b.id)).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    expect(fake.requests.slice(-2).map((r) => [r.op, r.status])).toEqual([
      ["retrieve", 200],
      ["results", 500],
    ]);
  });
});

describe("batch-level faults", () => {
  it("expire: ends with the first fraction run and the rest expired", async () => {
    fake.setFaults({ expire: true, expireAfterFraction: 0.25 });
    const b = await client.messages.batches.create({ requests: reqs(8) });
    const ended = await waitEnded(b.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 2, errored: 0, canceled: 0, expired: 6 });
    const types: string[] = [];
    for await (const r of await client.messages.batches.results(b.id)) types.push(r.result.type);
    expect(types.filter((t) => t === "expired")).toHaveLength(6);
  });

  it("cancelFinishedFraction: a cancel keeps the results that already finished", async () => {
    fake.hold();
    fake.setFaults({ cancelFinishedFraction: 0.5 });
    const b = await client.messages.batches.create({ requests: reqs(4) });
    await client.messages.batches.cancel(b.id);
    expect((await waitEnded(b.id)).request_counts).toMatchObject({ succeeded: 2, canceled: 2 });
  });

  it("malformedResults: one corrupt line makes the SDK's JSONL decoder throw", async () => {
    const b = await client.messages.batches.create({ requests: reqs(5) });
    await waitEnded(b.id);
    fake.setFaults({ malformedResults: true });
    const seen: string[] = [];
    const iterate = async () => {
      for await (const r of await client.messages.batches.results(b.id)) seen.push(r.custom_id);
    };
    await expect(iterate()).rejects.toBeInstanceOf(SyntaxError);
    expect(seen).toHaveLength(2); // the lines before the corrupt middle one arrived intact
  });

  it("results written in slices that cut through lines still decode; content-type is application/x-jsonl", async () => {
    const tiny = await startAnthropicFake({ resultsChunkBytes: 7, turnaroundMs: 5 });
    const c = new Anthropic({ apiKey: tiny.apiKey, baseURL: tiny.baseUrl, maxRetries: 0 });
    const b = await c.messages.batches.create({ requests: reqs(12) });
    await waitEnded(b.id, c);
    const rawResponse = await c.get(`/v1/messages/batches/${b.id}/results`).asResponse();
    expect(rawResponse.headers.get("content-type")).toBe("application/x-jsonl");
    expect((await rawResponse.text()).trimEnd().split("\n")).toHaveLength(12);
    const ids: string[] = [];
    for await (const r of await c.messages.batches.results(b.id)) ids.push(r.custom_id);
    expect(ids.sort()).toEqual(
      reqs(12)
        .map((r) => r.custom_id)
        .sort(),
    );
    await tiny.close();
  });
});

describe("the clock", () => {
  let t = Date.parse("2026-11-20T10:00:00.000Z");
  let timed: AnthropicFake;
  let c: Anthropic;
  beforeAll(async () => {
    timed = await startAnthropicFake({ now: () => t });
    c = new Anthropic({ apiKey: timed.apiKey, baseURL: timed.baseUrl, maxRetries: 0 });
  });
  afterAll(() => timed.close());

  it("a held batch expires 24 h after creation; results are archived after 29 days", async () => {
    timed.hold();
    const b = await c.messages.batches.create({ requests: reqs(3) });
    expect(b.created_at).toBe("2026-11-20T10:00:00.000Z");
    expect(b.expires_at).toBe("2026-11-21T10:00:00.000Z");
    t += 23 * 3600 * 1000;
    expect((await c.messages.batches.retrieve(b.id)).processing_status).toBe("in_progress");
    t += 3600 * 1000;
    const ended = await c.messages.batches.retrieve(b.id);
    expect(ended).toMatchObject({ processing_status: "ended", ended_at: b.expires_at, archived_at: null });
    expect(ended.request_counts).toMatchObject({ expired: 3, processing: 0 });
    t += 29 * 24 * 3600 * 1000;
    expect((await c.messages.batches.retrieve(b.id)).archived_at).toBe("2026-12-19T10:00:00.000Z");
    await expect(c.messages.batches.results(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("an unheld batch ends at its turnaround, also when the next look is days later", async () => {
    timed.release();
    const b = await c.messages.batches.create({ requests: reqs(2) });
    t += 3 * 24 * 3600 * 1000;
    expect((await c.messages.batches.retrieve(b.id)).request_counts).toMatchObject({ succeeded: 2, expired: 0 });
  });
});
