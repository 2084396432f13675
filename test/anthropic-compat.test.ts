import http from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

// The official Anthropic SDK, unchanged, against /v1/anthropic with a BatchRouter test key: the
// whole Message Batches workflow on the simulator, and its error paths.

let srv: TestServer;
let client: Anthropic;
let key: string;

beforeAll(async () => {
  // claude-sonnet-4's lanes refuse submits, so a batch of it waits unsent: one to cancel.
  srv = await startTestServer(
    { AGENT_REGISTER_PER_IP_PER_HOUR: "1000" },
    { worker: { simulator: { turnaroundMs: 0, faults: { "*/claude-sonnet-4/*": { submit_error: "capacity" } } } } },
  );
  key = (await registerAgent(srv.base)).test_api_key;
  client = sdk(key);
});
afterAll(async () => srv?.close());

const sdk = (apiKey: string) => new Anthropic({ apiKey, baseURL: `${srv.base}/v1/anthropic`, maxRetries: 0 });

const request = (custom_id: string, model = "claude-haiku-4"): Anthropic.Messages.BatchCreateParams.Request => ({
  custom_id,
  params: { model, max_tokens: 40, system: "You label tickets.", messages: [{ role: "user", content: `Classify ticket ${custom_id}` }] },
});

// A custom tool in Anthropic's form, which the create turns into a function tool.
const withTool = (r: Anthropic.Messages.BatchCreateParams.Request) => ({
  ...r,
  params: {
    ...r.params,
    tools: [{ name: "label", description: "Labels a ticket.", input_schema: { type: "object" as const, properties: {} } }],
  },
});

const untilEnded = (id: string, c = client) =>
  waitFor(
    async () => {
      const b = await c.messages.batches.retrieve(id);
      return b.processing_status === "ended" ? b : undefined;
    },
    30_000,
    `batch ${id} to end`,
    100,
  );

const BATCH_FIELDS: Record<keyof Anthropic.Messages.MessageBatch, true> = {
  id: true,
  type: true,
  processing_status: true,
  request_counts: true,
  created_at: true,
  expires_at: true,
  ended_at: true,
  cancel_initiated_at: true,
  archived_at: true,
  results_url: true,
};

function expectBatchShape(b: Anthropic.Messages.MessageBatch) {
  expect(Object.keys(b).sort()).toEqual(Object.keys(BATCH_FIELDS).sort());
  expect(b.type).toBe("message_batch");
  expect(b.id).toMatch(/^bat_/);
  for (const t of [b.created_at, b.expires_at]) expect(new Date(t).toISOString()).toBe(t);
  expect(Object.keys(b.request_counts).sort()).toEqual(["canceled", "errored", "expired", "processing", "succeeded"]);
}

describe("the Anthropic Message Batches workflow through the official SDK", () => {
  it("creates, polls, and streams results joined on custom_id; the batch is the native one", async () => {
    const ids = ["t-1", "t-2", "t_3"];
    const created = await client.messages.batches.create({ requests: ids.map((id) => request(id)) });
    expectBatchShape(created);
    expect(created.processing_status).toBe("in_progress");
    expect(created.results_url).toBeNull();

    const done = await untilEnded(created.id);
    expectBatchShape(done);
    expect(done.request_counts).toEqual({ processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 0 });
    expect(done.results_url).toBe(`${srv.base}/v1/anthropic/v1/messages/batches/${created.id}/results`);
    expect(new Date(done.ended_at!).getTime()).toBeGreaterThanOrEqual(new Date(done.created_at).getTime());

    const native = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(native.body).toMatchObject({ id: created.id, status: "completed" });

    const byId = new Map<string, Anthropic.Messages.MessageBatchIndividualResponse>();
    for await (const r of await client.messages.batches.results(created.id)) byId.set(r.custom_id, r);
    expect([...byId.keys()].sort()).toEqual([...ids].sort());
    for (const r of byId.values()) {
      if (r.result.type !== "succeeded") throw new Error(`expected succeeded, got ${r.result.type}`);
      const m = r.result.message;
      expect(m).toMatchObject({ type: "message", role: "assistant", model: "claude-haiku-4", stop_sequence: null });
      expect(m.id).toMatch(/^msg_/);
      expect(m.content[0]).toMatchObject({ type: "text", text: expect.stringContaining("claude-haiku-4") });
      expect(m.usage.input_tokens).toBeGreaterThan(0);
      expect(m.usage.output_tokens).toBeGreaterThan(0);
    }
  });

  it("accepts Anthropic's model names and x-api-key, and reports failed requests as errored", async () => {
    const bad = request("bad", "claude-3-5-haiku-20241022");
    bad.params.messages = [{ role: "user", content: "Classify [simulate:invalid_input]" }];
    const res = await call(srv.base, "POST", "/v1/anthropic/v1/messages/batches", {
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01" },
      body: { requests: [withTool(request("good", "claude-haiku-4-5")), bad] },
    });
    expect(res.status).toBe(200);
    const done = await untilEnded(res.body.id);
    expect(done.request_counts).toMatchObject({ succeeded: 1, errored: 1 });
    const byId = new Map<string, Anthropic.Messages.MessageBatchResult>();
    for await (const r of await client.messages.batches.results(done.id)) byId.set(r.custom_id, r.result);
    expect(byId.get("good")?.type).toBe("succeeded");
    expect(byId.get("bad")).toMatchObject({ type: "errored", error: { type: "error", error: { type: "invalid_request_error" } } });
  });

  it("lists batches with the SDK's auto-pagination, both ways", async () => {
    const fresh = sdk((await registerAgent(srv.base)).test_api_key);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await fresh.messages.batches.create({ requests: [request(`l-${i}`)] })).id);
    const seen: string[] = [];
    for await (const b of fresh.messages.batches.list({ limit: 2 })) seen.push(b.id);
    expect(seen).toEqual([...made].reverse());
    const first = await fresh.messages.batches.list({ limit: 2 });
    expect(first).toMatchObject({ has_more: true, first_id: made[2], last_id: made[1] });
    const newer = await fresh.messages.batches.list({ before_id: made[0]!, limit: 1 });
    expect(newer.data.map((b) => b.id)).toEqual([made[1]]);
    expect(newer.has_more).toBe(true);
    // Left running, they would hold the worker's database connections into the server's shutdown.
    await Promise.all(made.map((id) => untilEnded(id, fresh)));
  });

  it("cancels a batch, then deletes it once ended", async () => {
    const b = await client.messages.batches.create({ requests: [request("c-1", "claude-sonnet-4")] });
    await expect(client.messages.batches.delete(b.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    const canceling = await client.messages.batches.cancel(b.id);
    expect(["canceling", "ended"]).toContain(canceling.processing_status);
    expect(canceling.cancel_initiated_at).not.toBeNull();
    const done = await untilEnded(b.id);
    expect(done.request_counts).toMatchObject({ processing: 0, canceled: 1 });
    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const r of await client.messages.batches.results(b.id)) results.push(r);
    expect(results).toEqual([{ custom_id: "c-1", result: { type: "canceled" } }]);
    expect(await client.messages.batches.delete(b.id)).toEqual({ id: b.id, type: "message_batch_deleted" });
    // Gone from this surface, as at Anthropic; the native record stays for billing.
    await expect(client.messages.batches.retrieve(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(client.messages.batches.delete(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    const listed: string[] = [];
    for await (const x of client.messages.batches.list({ limit: 100 })) listed.push(x.id);
    expect(listed).not.toContain(b.id);
  });

  it("answers errors in Anthropic's envelope with the SDK's error classes", async () => {
    const err = await client.messages.batches.retrieve("bat_nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
      type: "error",
      error: { type: "not_found_error" },
    });

    const mine = await client.messages.batches.create({ requests: [request("o-1")] });
    const other = sdk((await registerAgent(srv.base)).test_api_key);
    await expect(other.messages.batches.retrieve(mine.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.messages.batches.cancel(mine.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await untilEnded(mine.id);

    const badId = await client.messages.batches.create({ requests: [request("has space")] }).catch((e: unknown) => e);
    expect(badId).toBeInstanceOf(Anthropic.BadRequestError);
    expect((badId as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("custom_id") },
    });
    const noMax = { custom_id: "x", params: { model: "claude-haiku-4", messages: [{ role: "user", content: "hi" }] } };
    await expect(
      client.messages.batches.create({ requests: [noMax as unknown as Anthropic.Messages.BatchCreateParams.Request] }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(client.messages.batches.create({ requests: [request("m", "no-such-model")] })).rejects.toBeInstanceOf(
      Anthropic.BadRequestError,
    );

    const unauth = await new Anthropic({ apiKey: "br_test_nope", baseURL: `${srv.base}/v1/anthropic`, maxRetries: 0 }).messages.batches
      .list()
      .catch((e: unknown) => e);
    expect(unauth).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});

describe("what a create can carry, through the official SDK", () => {
  it("runs tool_use / tool_result turns, images and a forced tool, answering with tool_use blocks", async () => {
    const png = Buffer.from("89504e470d0a1a0a", "hex").toString("base64");
    const weather = {
      name: "weather",
      description: "Weather in a city.",
      input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
    };
    const created = await client.messages.batches.create({
      requests: [
        {
          custom_id: "tools",
          params: {
            model: "claude-haiku-4",
            max_tokens: 60,
            tools: [weather],
            tool_choice: { type: "tool", name: "weather", disable_parallel_tool_use: true },
            messages: [
              { role: "user", content: "Weather in Paris?" },
              { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } }] },
              {
                role: "user",
                content: [
                  { type: "tool_result", tool_use_id: "toolu_1", content: "18C" },
                  { type: "text", text: "And in Rome?" },
                ],
              },
            ],
          },
        },
        {
          custom_id: "image",
          params: {
            model: "claude-haiku-4",
            max_tokens: 40,
            output_config: {
              format: {
                type: "json_schema",
                schema: { type: "object", properties: { animal: { type: "string" } }, required: ["animal"], additionalProperties: false },
              },
            },
            messages: [
              {
                role: "user",
                content: [
                  { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
                  { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
                  { type: "text", text: "Which animal?" },
                ],
              },
            ],
          },
        },
      ],
    });
    const done = await untilEnded(created.id);
    expect(done.request_counts).toMatchObject({ succeeded: 2, errored: 0 });

    const results = new Map<string, Anthropic.Messages.MessageBatchResult>();
    for await (const r of await client.messages.batches.results(created.id)) results.set(r.custom_id, r.result);
    const tools = results.get("tools");
    if (tools?.type !== "succeeded") throw new Error(`expected succeeded, got ${tools?.type}`);
    expect(tools.message.stop_reason).toBe("tool_use");
    expect(tools.message.content).toEqual([
      { type: "tool_use", id: expect.any(String), name: "weather", input: { city: expect.any(String) } },
    ]);
    const image = results.get("image");
    if (image?.type !== "succeeded") throw new Error(`expected succeeded, got ${image?.type}`);
    const text = image.message.content[0];
    expect(text?.type).toBe("text");
    // The output format rode along as a JSON-schema response_format: the answer is JSON of that shape.
    expect(JSON.parse((text as Anthropic.Messages.TextBlock).text)).toEqual({ animal: expect.any(String) });
  });

  it("refuses what the native item can't carry, naming the custom_id and the JSON path", async () => {
    const inputsBefore = await anthropicInputFiles();
    const refused = await client.messages.batches
      .create({
        requests: [
          request("fine"),
          {
            custom_id: "doc-1",
            params: {
              model: "claude-haiku-4",
              max_tokens: 10,
              messages: [{ role: "user", content: [{ type: "document", source: { type: "text", media_type: "text/plain", data: "x" } }] }],
            },
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toEqual({
      type: "error",
      error: {
        type: "invalid_request_error",
        message:
          'Invalid request at /requests/1/params/messages/0/content/0/type (custom_id "doc-1"): a "document" block in a user message is not supported by BatchRouter items.',
      },
    });
    const thinking = await client.messages.batches
      .create({
        requests: [{ ...request("t-1"), params: { ...request("t-1").params, thinking: { type: "enabled", budget_tokens: 1024 } } }],
      })
      .catch((e: unknown) => e);
    expect((thinking as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      error: { message: expect.stringContaining('/requests/0/params/thinking (custom_id "t-1")') },
    });
    // Nothing was left behind by the refused creates: no stored input file.
    expect(await anthropicInputFiles()).toBe(inputsBefore);
  });

  it("streams a create of a few thousand requests, the same batch natively", async () => {
    const n = 3000;
    const created = await client.messages.batches.create({ requests: Array.from({ length: n }, (_, i) => request(`bulk-${i}`)) });
    expect(created.request_counts.processing + created.request_counts.succeeded).toBe(n);
    const native = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(native.body).toMatchObject({ id: created.id, batch: { item_count: n } });
    const done = await untilEnded(created.id);
    expect(done.request_counts).toMatchObject({ succeeded: n, errored: 0 });
    let count = 0;
    for await (const r of await client.messages.batches.results(created.id)) if (r.result.type === "succeeded") count++;
    expect(count).toBe(n);
  });

  it("answers a body over 256 MB with 413 in Anthropic's envelope, before reading it", async () => {
    const res = await rawPost("/v1/anthropic/v1/messages/batches", { "content-length": String(256 * 1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ type: "error", error: { type: "request_too_large" } });
  });
});

/** The input files the Anthropic creates stored (one per batch created on this surface). */
async function anthropicInputFiles(): Promise<number> {
  const files = await call(srv.base, "GET", "/v1/files?limit=100", { key });
  return files.body.data.filter((f: { filename: string }) => f.filename === "anthropic-message-batch.jsonl").length;
}

/** A POST whose headers promise a body that is never sent: the answer must come from the headers alone. */
function rawPost(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(path, srv.base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", ...headers },
      },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.flushHeaders();
  });
}
