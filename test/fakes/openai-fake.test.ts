/**
 * The OpenAI fake, driven only through the official `openai` SDK: if the SDK can run the whole batch
 * workflow and the real-time calls against it, the fake speaks the real wire protocol, and adapter
 * tests built on it test against that protocol. Faults are in openai-fake-faults.test.ts.
 */
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/wait.js";
import { startOpenAiFake, type OpenAiFake } from "./openai-fake.js";
import { chatLine, type Json, jsonl, readResultFile, sdkFor, uploadBatchFile, waitForBatch } from "./openai-fake-sdk.js";

const KEY = "sk-test-fake-0123456789";
let fake: OpenAiFake;
let client: OpenAI;

beforeAll(async () => {
  fake = await startOpenAiFake({ apiKey: KEY, seed: 7 });
  client = sdkFor(fake, KEY);
});
afterAll(async () => fake?.close());

describe("batch workflow through the SDK", () => {
  it("uploads, runs, and returns shuffled results that join on custom_id", async () => {
    const prompts = Array.from({ length: 12 }, (_, i) => `question number ${i} about the fake`);
    const file = await uploadBatchFile(
      client,
      prompts.map((p, i) => chatLine(`req-${i}`, p)),
    );
    expect(file).toMatchObject({ object: "file", purpose: "batch", status: "processed", filename: "input.jsonl" });
    expect(file.id).toMatch(/^file-/);
    expect(file.bytes).toBe(jsonl(prompts.map((p, i) => chatLine(`req-${i}`, p))).length);

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { job: "flow" },
    });
    expect(created).toMatchObject({
      object: "batch",
      status: "validating",
      in_progress_at: null,
      completed_at: null,
      output_file_id: null,
      metadata: { job: "flow" },
    });
    expect(created.expires_at).toBe(created.created_at + 86_400);

    const done = await waitForBatch(client, created.id);
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 12, completed: 12, failed: 0 });
    expect(done.error_file_id).toBeNull();
    for (const k of ["in_progress_at", "finalizing_at", "completed_at"] as const) expect(done[k]).toEqual(expect.any(Number));
    expect(done.failed_at).toBeNull();

    const out = await readResultFile(client, done.output_file_id as string);
    const lines = out.parsed as Json[];
    expect(lines).toHaveLength(12);
    // Output order is not input order: an adapter must join on custom_id.
    expect(lines.map((l) => l.custom_id)).not.toEqual(prompts.map((_, i) => `req-${i}`));
    const byId = new Map(lines.map((l) => [l.custom_id as string, l]));
    let input = 0;
    let output = 0;
    prompts.forEach((p, i) => {
      const l = byId.get(`req-${i}`) as Json;
      expect(l.id).toMatch(/^batch_req_/);
      expect(l.error).toBeNull();
      expect(l.response.status_code).toBe(200);
      expect(l.response.request_id).toMatch(/^req_/);
      const body = l.response.body;
      expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o-mini" });
      expect(body.choices[0]).toMatchObject({
        index: 0,
        finish_reason: "stop",
        message: { role: "assistant", content: `echo: ${p.slice(0, 40)}` },
      });
      expect(body.usage.prompt_tokens).toBe(Math.ceil(p.length / 4));
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
      input += body.usage.prompt_tokens;
      output += body.usage.completion_tokens;
    });
    expect(done.usage).toMatchObject({ input_tokens: input, output_tokens: output, total_tokens: input + output });

    const outFile = await client.files.retrieve(done.output_file_id as string);
    expect(outFile).toMatchObject({ purpose: "batch_output", filename: `${done.id}_output.jsonl` });
  });

  it("pages batches.list newest first over more than 20 batches", async () => {
    const file = await uploadBatchFile(client, [chatLine("only", "hello")]);
    const ids: string[] = [];
    for (let i = 0; i < 23; i++)
      ids.push((await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    const first = await client.batches.list();
    expect(first.data).toHaveLength(20);
    expect(first.has_more).toBe(true);
    const seen: string[] = [];
    for await (const b of client.batches.list({ limit: 7 })) seen.push(b.id);
    expect(seen.slice(0, 23)).toEqual([...ids].reverse());
    expect(fake.requests.some((r) => r.path === "/v1/batches" && r.query.includes("after="))).toBe(true);
  });

  it("cancels a batch in progress and keeps the finished part", async () => {
    fake.hold();
    try {
      const file = await uploadBatchFile(
        client,
        Array.from({ length: 10 }, (_, i) => chatLine(`c-${i}`, `cancel me ${i}`)),
      );
      const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      await waitForHeld(b.id);
      const cancelling = await client.batches.cancel(b.id);
      expect(cancelling.status).toBe("cancelling");
      expect(cancelling.cancelling_at).toEqual(expect.any(Number));
      const done = await waitForBatch(client, b.id);
      expect(done.status).toBe("cancelled");
      expect(done.request_counts).toEqual({ total: 10, completed: 5, failed: 5 });
      const ok = await readResultFile(client, done.output_file_id as string);
      expect(ok.parsed).toHaveLength(5);
      const errs = await readResultFile(client, done.error_file_id as string);
      expect(errs.parsed.map((l) => l?.error.code)).toEqual(Array(5).fill("batch_cancelled"));
      expect(errs.parsed.every((l) => l?.response === null)).toBe(true);
      await expect(client.batches.cancel(b.id)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    } finally {
      fake.release();
    }
  });

  it("fails an invalid input file with the line of each problem", async () => {
    const file = await uploadBatchFile(client, [
      chatLine("ok-1", "fine"),
      "{not json",
      { method: "POST", url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [] } },
      chatLine("ok-1", "duplicate id"),
      { ...chatLine("ok-5", "wrong url"), url: "/v1/embeddings" },
      chatLine("ok-6", "other model", {}, "gpt-4o"),
    ]);
    const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const done = await waitForBatch(client, b.id);
    expect(done.status).toBe("failed");
    expect(done.failed_at).toEqual(expect.any(Number));
    expect(done.in_progress_at).toBeNull();
    expect(done.output_file_id).toBeNull();
    expect(done.errors?.object).toBe("list");
    expect(done.errors?.data?.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, "invalid_json_line", null],
      [3, "missing_required_parameter", "custom_id"],
      [4, "duplicate_custom_id", "custom_id"],
      [5, "url_mismatch", "url"],
      [6, "model_mismatch", "body.model"],
    ]);
  });
});

describe("errors as the SDK sees them", () => {
  it("answers a wrong key with 401 in OpenAI's envelope, and never logs the key", async () => {
    const bad = sdkFor(fake, "sk-wrong-key-987654");
    const err = await bad.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_api_key",
      param: null,
    });
    expect(JSON.stringify(err)).not.toContain("sk-wrong-key-987654");
    const log = JSON.stringify(fake.requests);
    expect(log).not.toContain(KEY);
    expect(log).not.toContain("sk-wrong-key-987654");
  });

  it("surfaces a 429 with Retry-After as RateLimitError", async () => {
    fake.setFaults({ failBatches: 1, kinds: ["429"], retryAfterSeconds: 7 });
    try {
      const err = await client.batches.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const rl = err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(rl.headers?.get("retry-after")).toBe("7");
      expect(rl.code).toBe("rate_limit_exceeded");
      await expect(client.batches.list()).resolves.toBeDefined();
    } finally {
      fake.setFaults({ kinds: ["500"], retryAfterSeconds: undefined });
    }
  });

  it("answers 404 for an unknown batch or file", async () => {
    await expect(client.batches.retrieve("batch_nope")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.retrieve("file-nope")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("files", () => {
  it("lists, retrieves, streams content and deletes (files.delete in 6.x)", async () => {
    const body = jsonl([chatLine("x", "files api")]);
    const f = await client.files.create({
      file: await toFile(body, "f.jsonl"),
      purpose: "batch",
      expires_after: { anchor: "created_at", seconds: 3600 },
    });
    expect(f.expires_at).toBe(f.created_at + 3600);
    const listed: string[] = [];
    for await (const x of client.files.list({ purpose: "batch" })) listed.push(x.id);
    expect(listed[0]).toBe(f.id);
    expect(Buffer.from(await (await client.files.content(f.id)).arrayBuffer())).toEqual(body);
    expect(await client.files.delete(f.id)).toEqual({ id: f.id, object: "file", deleted: true });
    await expect(client.files.retrieve(f.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("real-time endpoints", () => {
  it("answers chat.completions with the same deterministic body as a batch line", async () => {
    const r = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "Hello there, fake model!" },
      ],
    });
    expect(r.choices[0]?.message.content).toBe("echo: Hello there, fake model!");
    expect(r.usage).toMatchObject({ prompt_tokens: Math.ceil(("be brief".length + 1 + 24) / 4), completion_tokens: Math.ceil(30 / 4) });
  });

  it("answers responses.create, which the SDK reads into output_text", async () => {
    const r = await client.responses.create({ model: "gpt-4.1-mini", input: "Summarise nothing" });
    expect(r).toMatchObject({ object: "response", status: "completed", output_text: "echo: Summarise nothing" });
    expect(r.usage).toMatchObject({ input_tokens: 5, output_tokens: 6, total_tokens: 11 });
  });

  it("answers embeddings.create (base64 by default in the SDK) with deterministic unit vectors", async () => {
    const a = await client.embeddings.create({ model: "text-embedding-3-small", input: ["alpha", "beta"] });
    const b = await client.embeddings.create({ model: "text-embedding-3-small", input: "alpha", encoding_format: "float", dimensions: 8 });
    expect(a.data).toHaveLength(2);
    expect(a.data[0]?.embedding).toHaveLength(8);
    expect(a.data[0]?.embedding).toEqual(b.data[0]?.embedding);
    expect(Math.hypot(...(b.data[0]?.embedding ?? []))).toBeCloseTo(1, 5);
    expect(a.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});

/** Waits until the held batch is parked at the end of in_progress. */
async function waitForHeld(id: string): Promise<void> {
  await waitFor(() => (fake.state.batches.get(id)?.parked ? true : undefined), 5000, `batch ${id} to be held in progress`, 5);
}
