/**
 * The OpenAI fake's failure modes, each seen through the official SDK the way an adapter will see
 * it: per-request failures inside a batch, batch-level failures (expiry, token limit, limits), corrupt
 * output, clone quirks, and HTTP faults (429/5xx/timeouts, seeded so runs replay).
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startOpenAiFake, type OpenAiFake, type OpenAiFakeOptions } from "./openai-fake.js";
import { chatLine, readResultFile, sdkFor, uploadBatchFile, waitForBatch } from "./openai-fake-sdk.js";

const KEY = "sk-faults-test-key";
const open: OpenAiFake[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

async function setup(opts: OpenAiFakeOptions = {}, sdk: ConstructorParameters<typeof OpenAI>[0] = {}) {
  const fake = await startOpenAiFake({ apiKey: KEY, ...opts });
  open.push(fake);
  return { fake, client: sdkFor(fake, KEY, sdk) };
}

async function runBatch(
  client: OpenAI,
  rows: Array<Record<string, unknown>>,
  endpoint: "/v1/chat/completions" | "/v1/responses" | "/v1/embeddings" = "/v1/chat/completions",
) {
  const file = await uploadBatchFile(client, rows);
  const b = await client.batches.create({ input_file_id: file.id, endpoint, completion_window: "24h" });
  return waitForBatch(client, b.id);
}

const WEATHER_TOOL = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } };

describe("per-request outcomes inside a batch", () => {
  it("splits failures into the error file and still completes the batch", async () => {
    const { client } = await setup();
    const done = await runBatch(client, [
      chatLine("ok", "plain question"),
      chatLine("bad", "please [fail:400]"),
      chatLine("boom", "please [fail:500]"),
      chatLine("policy", "please [fail:content_policy]"),
      chatLine("slow", "please [fail:timeout]"),
      chatLine("tool", "weather? [call:get_weather]", { tools: [WEATHER_TOOL] }),
      chatLine("short", "a long prompt that will be cut short", { max_completion_tokens: 2 }),
    ]);
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 7, completed: 3, failed: 4 });
    const ok = new Map((await readResultFile(client, done.output_file_id as string)).parsed.map((l) => [l?.custom_id, l]));
    expect(ok.get("tool")?.response.body.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { content: null, tool_calls: [{ type: "function", function: { name: "get_weather", arguments: '{"input":"weather?"}' } }] },
    });
    expect(ok.get("short")?.response.body.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "echo: a " } });
    expect(ok.get("short")?.response.body.usage.completion_tokens).toBe(2);
    const errs = new Map((await readResultFile(client, done.error_file_id as string)).parsed.map((l) => [l?.custom_id, l]));
    expect(errs.get("bad")?.response).toMatchObject({ status_code: 400, body: { error: { type: "invalid_request_error" } } });
    expect(errs.get("boom")?.response).toMatchObject({ status_code: 500, body: { error: { type: "server_error" } } });
    expect(errs.get("policy")?.response).toMatchObject({ status_code: 400, body: { error: { code: "content_policy_violation" } } });
    expect(errs.get("slow")).toMatchObject({ response: null, error: { code: "request_timeout" } });
  });

  it("runs /v1/responses and /v1/embeddings batches", async () => {
    const { client } = await setup();
    const resp = await runBatch(
      client,
      [{ custom_id: "r1", method: "POST", url: "/v1/responses", body: { model: "gpt-4.1-mini", input: "hi" } }],
      "/v1/responses",
    );
    const [r] = (await readResultFile(client, resp.output_file_id as string)).parsed;
    expect(r?.response.body).toMatchObject({
      object: "response",
      status: "completed",
      output: [{ type: "message", content: [{ type: "output_text", text: "echo: hi" }] }],
    });
    const emb = await runBatch(
      client,
      [
        {
          custom_id: "e1",
          method: "POST",
          url: "/v1/embeddings",
          body: { model: "text-embedding-3-small", input: ["a", "b"], dimensions: 4 },
        },
      ],
      "/v1/embeddings",
    );
    const [e] = (await readResultFile(client, emb.output_file_id as string)).parsed;
    expect(e?.response.body.data.map((d: { embedding: number[] }) => d.embedding.length)).toEqual([4, 4]);
    expect(emb.usage).toMatchObject({ input_tokens: 2, output_tokens: 0 });
  });
});

describe("batch-level failures", () => {
  it("expires: a share finishes, the rest get batch_expired", async () => {
    const { client } = await setup({ faults: { expire: true, expireAfterFraction: 0.25 } });
    const done = await runBatch(
      client,
      Array.from({ length: 8 }, (_, i) => chatLine(`x${i}`, `item ${i}`)),
    );
    expect(done.status).toBe("expired");
    expect(done.expired_at).toEqual(expect.any(Number));
    expect(done.finalizing_at).toBeNull();
    expect(done.request_counts).toEqual({ total: 8, completed: 2, failed: 6 });
    const errs = await readResultFile(client, done.error_file_id as string);
    expect(new Set(errs.parsed.map((l) => l?.error.code))).toEqual(new Set(["batch_expired"]));
  });

  it("reports token_limit_exceeded on a failed batch, not as an HTTP error", async () => {
    const { client, fake } = await setup({ faults: { tokenLimitExceeded: true } });
    const file = await uploadBatchFile(client, [chatLine("a", "tokens")]);
    const created = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    expect(created.status).toBe("validating");
    const done = await waitForBatch(client, created.id);
    expect(done.status).toBe("failed");
    expect(done.errors?.data?.[0]).toMatchObject({ code: "token_limit_exceeded", line: null, param: null });
    fake.setFaults({ tokenLimitExceeded: false });
    expect((await runBatch(client, [chatLine("b", "tokens")])).status).toBe("completed");
  });

  it("counts enqueued tokens per model across batches in flight", async () => {
    const { client, fake } = await setup({ hold: true, enqueuedTokenLimit: 10 });
    const first = await uploadBatchFile(client, [chatLine("a", "x".repeat(32))]); // 8 tokens
    const b1 = await client.batches.create({ input_file_id: first.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const b2 = await client.batches.create({ input_file_id: first.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    expect((await waitForBatch(client, b2.id)).errors?.data?.[0]?.code).toBe("token_limit_exceeded");
    fake.release();
    expect((await waitForBatch(client, b1.id)).status).toBe("completed");
  });

  it("enforces the line limit on the batch and the byte limit at create", async () => {
    const { client } = await setup({ maxLines: 2, maxBytes: 1000 });
    const many = await runBatch(client, [chatLine("a", "1"), chatLine("b", "2"), chatLine("c", "3")]);
    expect(many.errors?.data).toEqual([
      { code: "too_many_tasks", line: null, param: null, message: expect.stringContaining("3 requests") },
    ]);
    const big = await uploadBatchFile(client, [chatLine("a", "y".repeat(1000))]);
    const err = await client.batches
      .create({ input_file_id: big.id, endpoint: "/v1/chat/completions", completion_window: "24h" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ code: "file_too_large", param: "input_file_id" });
  });
});

describe("output and clone quirks", () => {
  it("writes one corrupt line among good ones when malformedOutput is set", async () => {
    const { client } = await setup({ faults: { malformedOutput: true } });
    const done = await runBatch(
      client,
      Array.from({ length: 6 }, (_, i) => chatLine(`m${i}`, `item ${i}`)),
    );
    const out = await readResultFile(client, done.output_file_id as string);
    expect(out.raw).toHaveLength(6);
    expect(out.parsed.filter((l) => l === null)).toHaveLength(1);
  });

  it("spells statuses upper-case on the wire, lower-case in state", async () => {
    const { client, fake } = await setup({ faults: { upperCaseStatuses: true } });
    const done = await runBatch(client, [chatLine("u", "upper")]);
    expect(done.status as string).toBe("COMPLETED");
    expect((await client.batches.list()).data[0]?.status as string).toBe("COMPLETED");
    expect(fake.state.batches.get(done.id)?.wire.status).toBe("completed");
  });
});

describe("HTTP faults", () => {
  it("fails the next N calls of a kind, then recovers", async () => {
    const { client, fake } = await setup({ faults: { failFiles: 1, kinds: ["503"] } });
    const err = await uploadBatchFile(client, [chatLine("a", "b")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    await expect(uploadBatchFile(client, [chatLine("a", "b")])).resolves.toMatchObject({ object: "file" });
    expect(fake.requests.filter((r) => r.path === "/v1/files").map((r) => [r.status, r.fault])).toEqual([
      [503, "503"],
      [200, undefined],
    ]);
  });

  it("draws rate faults from a seeded RNG, so a seed replays the same failures", async () => {
    const pattern = async () => {
      const { client } = await setup({ seed: 99, faults: { rate: 0.4, kinds: ["429", "500"] } });
      const out: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await client.embeddings.create({ model: "m", input: "x" }).then(
          () => "ok",
          (e: InstanceType<typeof OpenAI.APIError>) => String(e.status),
        );
        out.push(r);
      }
      return out;
    };
    const a = await pattern();
    expect(a).toEqual(await pattern());
    expect(a.filter((x) => x !== "ok").length).toBeGreaterThan(0);
    expect(a).toContain("ok");
  });

  it("holds the socket on a timeout fault: a client timeout, or a reset when the fake gives up", async () => {
    const { client, fake } = await setup({ faults: { failRealtime: 2, kinds: ["timeout"], timeoutMs: 300 } }, { timeout: 100 });
    const ask = () => client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    await expect(ask()).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const patient = sdkFor(fake, KEY, { timeout: 5000 });
    const err = await patient.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    await expect(ask()).resolves.toMatchObject({ object: "chat.completion" });
  });

  it("loses a create's answer after making the batch: the SDK sees a connection error, the list shows the batch", async () => {
    const { fake, client } = await setup();
    const file = await uploadBatchFile(client, [chatLine("a", "hello")]);
    fake.setFaults({ loseBatchCreates: 1 });
    const params = {
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { work_unit_id: "wu_1" },
    } as const;
    await expect(client.batches.create(params)).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const listed = await client.batches.list({ limit: 10 });
    expect(listed.data.map((b) => b.metadata)).toEqual([{ work_unit_id: "wu_1" }]);
    expect((await client.batches.create(params)).id).not.toBe(listed.data[0]!.id); // once only
  });

  it("answers real-time failure triggers with the matching status", async () => {
    const { client } = await setup();
    const ask = (content: string) => client.chat.completions.create({ model: "m", messages: [{ role: "user", content }] });
    await expect(ask("[fail:400]")).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(ask("[fail:content_policy]")).rejects.toMatchObject({ status: 400, code: "content_policy_violation" });
    await expect(ask("[fail:500]")).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const r = await client.responses.create({
      model: "m",
      input: "go [call:lookup]",
      tools: [{ type: "function", name: "lookup", parameters: {}, strict: false }],
    });
    expect(r.output[0]).toMatchObject({ type: "function_call", name: "lookup", arguments: '{"input":"go"}' });
  });
});
