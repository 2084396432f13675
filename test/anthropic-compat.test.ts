import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anthropicSdk, anthropicInputFiles as inputFiles, batchRequest, expectBatchShape, untilBatchEnded } from "./helpers/anthropic.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// The official Anthropic SDK, unchanged, against /v1/anthropic with a BatchRouter test key: the
// whole Message Batches workflow on the simulator, and its error paths (what a create can carry:
// anthropic-compat-create.test.ts).

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

const sdk = (apiKey: string) => anthropicSdk(srv.base, apiKey);
const request = batchRequest;
const untilEnded = (id: string, c = client) => untilBatchEnded(c, id);
const anthropicInputFiles = () => inputFiles(srv.base, key);

// A custom tool in Anthropic's form, which the create turns into a function tool.
const withTool = (r: Anthropic.Messages.BatchCreateParams.Request) => ({
  ...r,
  params: {
    ...r.params,
    tools: [{ name: "label", description: "Labels a ticket.", input_schema: { type: "object" as const, properties: {} } }],
  },
});

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
    // The envelope is checked at create, as Anthropic does (params are checked per request, later).
    const inputsBefore = await anthropicInputFiles();
    const envelopes = [
      [request("d"), request("d")],
      [{ custom_id: "no-params" }],
      [{ ...request("extra"), extra: true }],
      [],
    ] as unknown as Anthropic.Messages.BatchCreateParams.Request[][];
    for (const requests of envelopes) {
      await expect(client.messages.batches.create({ requests })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    }
    const dup = await client.messages.batches.create({ requests: [request("d"), request("d")] }).catch((e: unknown) => e);
    expect((dup as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      error: { message: expect.stringContaining('/requests/1/custom_id (custom_id "d"): duplicate custom_id') },
    });
    // Nothing was left behind by the refused creates: no stored input file.
    expect(await anthropicInputFiles()).toBe(inputsBefore);

    const unauth = await new Anthropic({ apiKey: "br_test_nope", baseURL: `${srv.base}/v1/anthropic`, maxRetries: 0 }).messages.batches
      .list()
      .catch((e: unknown) => e);
    expect(unauth).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});

describe("requests whose params can't run: errored results, as at Anthropic", () => {
  it("runs a batch whose bad requests are errored in their place, billing only the good ones", async () => {
    const db = srv.database.db;
    const doc = {
      custom_id: "doc-1",
      params: {
        model: "claude-haiku-4",
        max_tokens: 10,
        messages: [
          {
            role: "user" as const,
            content: [{ type: "document" as const, source: { type: "text" as const, media_type: "text/plain" as const, data: "x" } }],
          },
        ],
      },
    };
    const thinking = {
      ...request("think"),
      params: { ...request("think").params, thinking: { type: "enabled" as const, budget_tokens: 1024 } },
    };
    const noMax = { custom_id: "no-max", params: { model: "claude-haiku-4", messages: [{ role: "user", content: "hi" }] } };
    const requests = [request("g-0"), doc, request("g-1"), thinking, noMax, request("g-2"), request("unknown", "no-such-model")];
    const order = requests.map((r) => r.custom_id);
    const created = await client.messages.batches.create({ requests: requests as Anthropic.Messages.BatchCreateParams.Request[] });
    expect(created.request_counts).toEqual({ processing: 3, succeeded: 0, errored: 4, canceled: 0, expired: 0 });
    const done = await untilEnded(created.id);
    expect(done.request_counts).toEqual({ processing: 0, succeeded: 3, errored: 4, canceled: 0, expired: 0 });

    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const r of await client.messages.batches.results(created.id)) results.push(r);
    // In request order, each errored request in its own place.
    expect(results.map((r) => [r.custom_id, r.result.type])).toEqual(
      order.map((id) => [id, id.startsWith("g-") ? "succeeded" : "errored"]),
    );
    const errored = new Map(results.map((r) => [r.custom_id, r.result]));
    expect(errored.get("doc-1")).toEqual({
      type: "errored",
      error: {
        type: "error",
        error: {
          type: "invalid_request_error",
          message: '/params/messages/0/content/0/type: a "document" block in a user message is not supported by BatchRouter items.',
        },
      },
    });
    expect(errored.get("think")).toMatchObject({ error: { error: { message: expect.stringContaining("/params/thinking: ") } } });
    expect(errored.get("no-max")).toMatchObject({ error: { error: { message: expect.stringContaining("/params/max_tokens") } } });
    expect(errored.get("unknown")).toMatchObject({ error: { error: { message: expect.stringContaining("no-such-model") } } });

    // Natively the same batch: 7 items, 4 of them failed, completed since some succeeded.
    const native = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(native.body.batch).toMatchObject({ status: "completed", item_count: 7, counts: { total: 7, completed: 3, failed: 4 } });
    for (const receipt of ["route-receipt", "billing-receipt"])
      expect((await call(srv.base, "GET", `/v1/batches/${created.id}/${receipt}`, { key })).status).toBe(200);
    // Money: reserved and settled for the three good requests only, exactly as a batch of just those.
    const twin = await client.messages.batches.create({ requests: ["g-0", "g-1", "g-2"].map((id) => request(id)) });
    await untilEnded(twin.id);
    const [mixed, alone] = await Promise.all([created.id, twin.id].map((id) => db("batches").where({ id }).first()));
    expect(Number(mixed.reserved_micros)).toBe(Number(alone.reserved_micros));
    expect(Number(mixed.settled_provider_micros)).toBe(Number(alone.settled_provider_micros));
    expect(Number(mixed.settled_provider_micros)).toBeGreaterThan(0);
    const failed = await db("batch_items").where({ batch_id: created.id, status: "failed" });
    expect(failed.map((i) => [i.customer_item_id, i.work_unit_id, i.cost_micros, i.settled])).toEqual(
      ["doc-1", "think", "no-max", "unknown"].map((id) => [id, null, null, false]),
    );
  });

  it("ends a create whose every request is errored at once, charging nothing", async () => {
    const noMax = { custom_id: "z-1", params: { model: "claude-haiku-4", messages: [{ role: "user", content: "hi" }] } };
    const created = await client.messages.batches.create({
      requests: [noMax as unknown as Anthropic.Messages.BatchCreateParams.Request, request("z-2", "no-such-model")],
    });
    expectBatchShape(created);
    expect(created.processing_status).toBe("ended");
    expect(created.request_counts).toEqual({ processing: 0, succeeded: 0, errored: 2, canceled: 0, expired: 0 });
    expect(created.results_url).not.toBeNull();
    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const r of await client.messages.batches.results(created.id)) results.push(r);
    expect(results.map((r) => [r.custom_id, r.result.type])).toEqual([
      ["z-1", "errored"],
      ["z-2", "errored"],
    ]);
    const native = await call(srv.base, "GET", `/v1/batches/${created.id}`, { key });
    expect(native.body.batch).toMatchObject({ status: "failed", counts: { total: 2, failed: 2 }, settled_total: { amount: "0.000000" } });
    expect(await srv.database.db("ledger_entries").where({ batch_id: created.id })).toEqual([]);
  });
});
