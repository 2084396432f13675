import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

// The official OpenAI SDK, unchanged, against /v1/openai/v1 with a BatchRouter test key: the whole
// Batch workflow on the simulator, and its error paths.

let srv: TestServer;
let client: OpenAI;
let key: string;

beforeAll(async () => {
  // gpt-4o's lanes refuse submits, so a batch of it waits unsent: one to cancel.
  srv = await startTestServer(
    { AGENT_REGISTER_PER_IP_PER_HOUR: "1000" },
    { worker: { simulator: { turnaroundMs: 0, faults: { "*/gpt-4o/*": { submit_error: "capacity" } } } } },
  );
  key = (await registerAgent(srv.base)).test_api_key;
  client = sdk(key);
});
afterAll(async () => srv?.close());

const sdk = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${srv.base}/v1/openai/v1`, maxRetries: 0 });

type Line = { custom_id: string; method: string; url: string; body: Record<string, unknown> };
const chatLine = (id: string, model = "gpt-4o-mini"): Line => ({
  custom_id: id,
  method: "POST",
  url: "/v1/chat/completions",
  body: { model, messages: [{ role: "user", content: `Classify ticket ${id}` }], max_tokens: 40 },
});
const jsonl = (lines: unknown[]) => `${lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n")}\n`;
const upload = async (lines: unknown[], c = client) =>
  c.files.create({ file: await toFile(Buffer.from(jsonl(lines)), "batch.jsonl"), purpose: "batch" });

const untilEnded = (id: string, c = client) =>
  waitFor(
    async () => {
      const b = await c.batches.retrieve(id);
      return ["completed", "failed", "expired", "cancelled"].includes(b.status) ? b : undefined;
    },
    30_000,
    `batch ${id} to end`,
    100,
  );

const parseLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

// Every field of the SDK's types, checked by the compiler: a field the SDK adds or renames fails to typecheck here.
const BATCH_FIELDS: Record<keyof OpenAI.Batch, "number" | "nullable number" | "other"> = {
  id: "other",
  object: "other",
  endpoint: "other",
  errors: "other",
  input_file_id: "other",
  completion_window: "other",
  status: "other",
  output_file_id: "other",
  error_file_id: "other",
  created_at: "number",
  expires_at: "number",
  in_progress_at: "nullable number",
  finalizing_at: "nullable number",
  completed_at: "nullable number",
  failed_at: "nullable number",
  expired_at: "nullable number",
  cancelling_at: "nullable number",
  cancelled_at: "nullable number",
  request_counts: "other",
  metadata: "other",
  model: "other",
  usage: "other",
};
const FILE_FIELDS: Record<keyof OpenAI.FileObject, true> = {
  id: true,
  object: true,
  bytes: true,
  created_at: true,
  filename: true,
  purpose: true,
  status: true,
  expires_at: true,
  status_details: true,
};

/** Exactly the SDK's fields; timestamps in Unix seconds (or null until reached). */
function expectBatchShape(b: OpenAI.Batch) {
  expect(Object.keys(b).sort()).toEqual(Object.keys(BATCH_FIELDS).sort());
  expect(b.object).toBe("batch");
  expect(b.id).toMatch(/^bat_/);
  for (const [k, kind] of Object.entries(BATCH_FIELDS)) {
    const v = (b as unknown as Record<string, unknown>)[k];
    if (kind === "other") continue;
    expect(kind === "nullable number" && v === null ? true : Number.isInteger(v) && (v as number) < 10_000_000_000, k).toBe(true);
  }
  expect(Object.keys(b.request_counts!).sort()).toEqual(["completed", "failed", "total"]);
  expect(b.usage!.total_tokens).toBe(b.usage!.input_tokens + b.usage!.output_tokens);
}

function expectFileShape(f: OpenAI.FileObject) {
  expect(Object.keys(f).sort()).toEqual(Object.keys(FILE_FIELDS).sort());
  expect(f).toMatchObject({ object: "file", status: "processed" });
  expect(f.id).toMatch(/^file_/);
  expect(Number.isInteger(f.bytes) && Number.isInteger(f.created_at)).toBe(true);
  expect(f.created_at).toBeLessThan(10_000_000_000);
  expect(typeof f.filename).toBe("string");
}

describe("the OpenAI Batch workflow through the official SDK", () => {
  it("uploads, creates, polls, and reads results joined on custom_id; the batch is the native one", async () => {
    const ids = ["t-1", "t-2", "t-3", "t-4"];
    const file = await upload(ids.map((id) => chatLine(id)));
    expectFileShape(file);
    expect(file).toMatchObject({ purpose: "batch", filename: "batch.jsonl" });
    expect(await client.files.retrieve(file.id)).toEqual(file);
    expect(await (await client.files.content(file.id)).text()).toBe(jsonl(ids.map((id) => chatLine(id))));

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { project: "tickets" },
    });
    expectBatchShape(created);
    expect(created).toMatchObject({
      endpoint: "/v1/chat/completions",
      input_file_id: file.id,
      completion_window: "24h",
      metadata: { project: "tickets" },
      request_counts: { total: 4 },
      output_file_id: null,
    });
    expect(["validating", "in_progress", "finalizing", "completed"]).toContain(created.status);

    const done = await untilEnded(created.id);
    expectBatchShape(done);
    expect(done).toMatchObject({ status: "completed", request_counts: { total: 4, completed: 4, failed: 0 }, error_file_id: null });
    expect(done.model).toBe("gpt-4o-mini");
    expect(done.usage!.input_tokens).toBeGreaterThan(0);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.in_progress_at).not.toBeNull();

    const native = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(native.body).toMatchObject({ id: created.id, status: "completed" });

    const text = await (await client.files.content(done.output_file_id!)).text();
    const lines = parseLines(text);
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    expect([...byId.keys()].sort()).toEqual(ids);
    for (const id of ids) {
      const line = byId.get(id);
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response).toMatchObject({ status_code: 200, request_id: expect.stringMatching(/^req_/) });
      const body = line.response.body as OpenAI.ChatCompletion;
      expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o-mini" });
      expect(body.choices[0]).toMatchObject({ index: 0, message: { role: "assistant" }, finish_reason: expect.any(String) });
      expect(body.choices[0]!.message.content).toContain("[simulated gpt-4o-mini]");
      expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens + body.usage!.completion_tokens);
    }

    const output = await client.files.retrieve(done.output_file_id!);
    expectFileShape(output);
    expect(output.purpose).toBe("batch_output");
    expect(output.bytes).toBe(Buffer.byteLength(text)); // the size of what is served, not of the native file
    expect(await (await client.files.content(output.id)).text()).toBe(text);
    const outputs: string[] = [];
    for await (const f of client.files.list({ purpose: "batch_output" })) outputs.push(f.purpose === "batch_output" ? f.id : "?");
    expect(outputs).toContain(output.id);
  });

  it("serves /v1/responses and /v1/embeddings batches with those endpoints' bodies", async () => {
    const resp = await upload([
      { custom_id: "r-1", method: "POST", url: "/v1/responses", body: { model: "gpt-4o-mini", input: "Say hi", max_output_tokens: 30 } },
    ]);
    const emb = await upload([
      { custom_id: "e-1", method: "POST", url: "/v1/embeddings", body: { model: "text-embedding-3-small", input: ["a", "b"] } },
    ]);
    const [rb, eb] = await Promise.all([
      client.batches.create({ input_file_id: resp.id, endpoint: "/v1/responses", completion_window: "24h" }),
      client.batches.create({ input_file_id: emb.id, endpoint: "/v1/embeddings", completion_window: "24h" }),
    ]);
    expect(rb.endpoint).toBe("/v1/responses");
    expect(eb.endpoint).toBe("/v1/embeddings");
    const [rd, ed] = await Promise.all([untilEnded(rb.id), untilEnded(eb.id)]);
    const [r] = parseLines(await (await client.files.content(rd.output_file_id!)).text());
    expect(r.response.body).toMatchObject({ object: "response", status: "completed", output: [{ type: "message", role: "assistant" }] });
    expect(r.response.body.output[0].content[0]).toMatchObject({ type: "output_text", text: expect.any(String) });
    const [e] = parseLines(await (await client.files.content(ed.output_file_id!)).text());
    const list = e.response.body as OpenAI.CreateEmbeddingResponse;
    expect(list).toMatchObject({ object: "list", model: "text-embedding-3-small" });
    expect(list.data.map((d) => [d.object, d.index])).toEqual([
      ["embedding", 0],
      ["embedding", 1],
    ]);
    expect(list.data[0]!.embedding.length).toBeGreaterThan(0);
  });

  it("serves legacy /v1/completions batches, answering text_completion bodies", async () => {
    const line = (id: string, prompt: string | string[]) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/completions",
      body: { model: "gpt-4o-mini", prompt, max_tokens: 20, temperature: 0.2, stop: ["\n\n"] },
    });
    const file = await upload([line("c-1", "Once upon a time"), line("c-2", ["Roses are red,"])]);
    const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/completions", completion_window: "24h" });
    expectBatchShape(b);
    expect(b.endpoint).toBe("/v1/completions");
    const done = await untilEnded(b.id);
    expect(done).toMatchObject({ status: "completed", endpoint: "/v1/completions", request_counts: { total: 2, completed: 2, failed: 0 } });
    const lines = parseLines(await (await client.files.content(done.output_file_id!)).text());
    expect(lines.map((l) => l.custom_id).sort()).toEqual(["c-1", "c-2"]);
    for (const l of lines) {
      const body = l.response.body as OpenAI.Completion;
      expect(Object.keys(body).sort()).toEqual(["choices", "created", "id", "model", "object", "usage"]);
      expect(body).toMatchObject({ object: "text_completion", model: "gpt-4o-mini", id: expect.stringMatching(/^cmpl-/) });
      expect(body.choices).toEqual([
        { text: expect.any(String), index: 0, logprobs: null, finish_reason: expect.stringMatching(/^(stop|length)$/) },
      ]);
      expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens + body.usage!.completion_tokens);
    }
  });

  it("refuses completions a single chat answer can't reproduce, naming the line and field", async () => {
    const base = { custom_id: "x", method: "POST", url: "/v1/completions", body: { model: "gpt-4o-mini", prompt: "hi" } };
    for (const body of [{ prompt: ["a", "b"] }, { prompt: [1, 2, 3] }, { n: 2 }, { echo: true }, { suffix: "end" }, { logprobs: 2 }]) {
      const err = await upload([chatLine("ok"), { ...base, body: { ...base.body, ...body } }]).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error.message).toContain("line 2");
      expect(err.error.message).toContain(`body.${Object.keys(body)[0]}: `);
    }
  });

  it("writes failed requests to the error file with a non-2xx status and an error body", async () => {
    const bad = chatLine("bad");
    (bad.body.messages as { content: string }[])[0]!.content = "Classify [simulate:invalid_input]";
    const file = await upload([chatLine("good"), bad]);
    const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const done = await untilEnded(b.id);
    expect(done.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const [line] = parseLines(await (await client.files.content(done.error_file_id!)).text());
    expect(line).toMatchObject({ custom_id: "bad", error: null, response: { status_code: 400 } });
    expect(line.response.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_input", message: expect.any(String) });

    // Every request failed: still `completed` for OpenAI, with only an error file.
    const allBad = await client.batches.create({
      input_file_id: (await upload([bad])).id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect(await untilEnded(allBad.id)).toMatchObject({
      status: "completed",
      errors: null,
      output_file_id: null,
      error_file_id: expect.stringMatching(/^file_/),
      request_counts: { total: 1, completed: 0, failed: 1 },
    });
  });

  it("lists batches and files with the SDK's auto-pagination", async () => {
    const c = sdk((await registerAgent(srv.base)).test_api_key);
    const file = await upload([chatLine("p-1")], c);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      made.push((await c.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    }
    const page = await c.batches.list({ limit: 2 });
    expect(page.data.map((b) => b.id)).toEqual(made.slice(-2).reverse());
    expect(page.hasNextPage()).toBe(true);
    const seen: string[] = [];
    for await (const b of c.batches.list({ limit: 2 })) {
      expectBatchShape(b);
      seen.push(b.id);
    }
    expect(seen).toEqual([...made].reverse());
    // Each batch adds its result files as it ends: list the files once all have ended, so the two
    // listings below see the same set (a batch ending between them would add files to one only).
    const ended = ["completed", "failed", "cancelled", "expired"];
    await waitFor(
      async () => ((await Promise.all(made.map((id) => c.batches.retrieve(id)))).every((b) => ended.includes(b.status)) ? true : undefined),
      30_000,
      "the five batches to end",
      50,
    );
    const files: string[] = [];
    for await (const f of c.files.list({ limit: 1 })) files.push(f.id);
    expect(files).toContain(file.id);
    expect(new Set(files).size).toBe(files.length);
    const ascending: string[] = [];
    for await (const f of c.files.list({ limit: 1, order: "asc" })) ascending.push(f.id);
    expect(ascending).toEqual([...files].reverse());
  });

  it("cancels a batch, and a second cancel is refused", async () => {
    const file = await upload([chatLine("c-1", "gpt-4o"), chatLine("c-2", "gpt-4o")]);
    const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    // Cancel once the items are out of validation and waiting on their (refusing) lane, as a user
    // who sees in_progress would. A cancel that lands while the batch still validates ends it before
    // its items are ever written: request_counts {total: 2, failed: 0} and no error file (the flake).
    await waitFor(
      async () => ((await client.batches.retrieve(b.id)).status === "in_progress" ? true : undefined),
      30_000,
      `batch ${b.id} to be in_progress`,
      50,
    );
    const cancelling = await client.batches.cancel(b.id);
    expectBatchShape(cancelling);
    expect(["cancelling", "cancelled"]).toContain(cancelling.status);
    expect(cancelling.cancelling_at).not.toBeNull();
    const done = await untilEnded(b.id);
    expect(done).toMatchObject({ status: "cancelled", request_counts: { total: 2, completed: 0, failed: 2 } });
    expect(done.cancelled_at).not.toBeNull();
    const lines = parseLines(await (await client.files.content(done.error_file_id!)).text());
    expect(lines.map((l) => [l.custom_id, l.response, l.error.code]).sort()).toEqual([
      ["c-1", null, "batch_cancelled"],
      ["c-2", null, "batch_cancelled"],
    ]);
    await expect(client.batches.cancel(b.id)).rejects.toBeInstanceOf(OpenAI.ConflictError);
  });

  it("honours an Idempotency-Key the caller sends (the SDK sends none of its own)", async () => {
    const file = await upload([chatLine("i-1")]);
    const params = { input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" } as const;
    const opts = { headers: { "Idempotency-Key": `openai-compat-${file.id}` } };
    const first = await client.batches.create(params, opts);
    expect((await client.batches.create(params, opts)).id).toBe(first.id);
    expect((await client.batches.create(params)).id).not.toBe(first.id);
  });

  it("routes with the options given in metadata, and refuses unknown values", async () => {
    const file = await upload([chatLine("m-1")]);
    const b = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { sla_tier: "flex", allowed_regions: "us,eu" },
    });
    expect(b.completion_window).toBe("48h");
    const native = await call(srv.base, "GET", `/v1/batches/${b.id}`, { key });
    expect(native.body.batch).toMatchObject({ sla_tier: "flex", allowed_regions: ["us", "eu"] });
    const err = await client.batches
      .create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { sla_tier: "fast" } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ type: "invalid_request_error", param: "metadata.sla_tier", code: "invalid_request" });
  });
});

describe("errors in OpenAI's envelope", () => {
  const expectUploadRefused = async (lines: unknown[], lineNo: number) => {
    const err = await upload(lines).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(Object.keys(err.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(err.error).toMatchObject({ type: "invalid_request_error", code: "preflight_failed" });
    expect(err.error.message).toContain(`line ${lineNo}`);
  };

  it("refuses an input file with a bad JSON line, a missing or a duplicate custom_id", async () => {
    await expectUploadRefused([chatLine("a"), "{not json"], 2);
    const { custom_id: _, ...noId } = chatLine("x");
    await expectUploadRefused([chatLine("a"), chatLine("b"), noId], 3);
    await expectUploadRefused([chatLine("a"), chatLine("a")], 2);
  });

  it("refuses a batch whose lines target another endpoint, naming the line", async () => {
    const file = await upload([chatLine("u-1"), { ...chatLine("u-2"), url: "/v1/responses", body: { model: "gpt-4o-mini", input: "hi" } }]);
    const err = await client.batches
      .create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ type: "invalid_request_error", code: "preflight_failed" });
    expect(err.error.message).toContain("line 2");
    const list = await call(srv.base, "GET", "/v1/batches?limit=100", { key });
    expect(list.body.data.some((b: { input_file_id: string }) => b.input_file_id === file.id)).toBe(false);
  });

  it("answers 404 NotFoundError for an unknown id and for another org's objects", async () => {
    const missing = await client.batches.retrieve("bat_doesnotexist").catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.error).toEqual({ message: "No such batch.", type: "invalid_request_error", param: null, code: "not_found" });
    await expect(client.files.retrieve("file_doesnotexist")).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const file = await upload([chatLine("o-1")]);
    const b = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const other = sdk((await registerAgent(srv.base)).test_api_key);
    await expect(other.batches.retrieve(b.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.batches.cancel(b.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.files.content(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(
      other.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(sdk("br_test_nope").batches.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    // What this surface doesn't serve is a 404 in OpenAI's envelope too, not a native error body.
    const unserved = await client.models.list().catch((e) => e);
    expect(unserved).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unserved.error).toMatchObject({ type: "invalid_request_error", code: "not_found", param: null });
  });

  it("refuses a purpose other than batch, and a file of native lines for a batch", async () => {
    const wrong = await client.files
      .create({ file: await toFile(Buffer.from(jsonl([chatLine("w")])), "x.jsonl"), purpose: "assistants" })
      .catch((e) => e);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
    expect(wrong.error).toMatchObject({ param: "purpose", code: "invalid_request" });
    const nativeFile = await upload([{ customer_item_id: "n-1", model: "gpt-4o-mini", input: { input: "hi" } }]);
    const err = await client.batches
      .create({ input_file_id: nativeFile.id, endpoint: "/v1/responses", completion_window: "24h" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ param: "input_file_id", code: "invalid_request" });
  });

  it("deletes a file, after which it is gone", async () => {
    const file = await upload([chatLine("d-1")]);
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("keeps the native envelope outside /v1/openai/", async () => {
    const res = await call(srv.base, "GET", "/v1/batches/bat_doesnotexist", { key });
    expect(res.body.error).toMatchObject({ code: "not_found", request_id: expect.any(String), details: {} });
  });
});
