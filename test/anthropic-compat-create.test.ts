import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anthropicSdk, batchRequest, rawPost as post, untilBatchEnded } from "./helpers/anthropic.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// What an Anthropic create can carry, through the official SDK against /v1/anthropic (the workflow
// and its errors: anthropic-compat.test.ts).

let srv: TestServer;
let client: Anthropic;
let key: string;

beforeAll(async () => {
  srv = await startTestServer({ AGENT_REGISTER_PER_IP_PER_HOUR: "1000" }, { worker: { simulator: { turnaroundMs: 0 } } });
  key = (await registerAgent(srv.base)).test_api_key;
  client = sdk(key);
});
afterAll(async () => srv?.close());

const sdk = (apiKey: string) => anthropicSdk(srv.base, apiKey);
const request = batchRequest;
const untilEnded = (id: string, c = client) => untilBatchEnded(c, id);
const rawPost = (path: string, headers: Record<string, string>) => post(srv.base, key, path, headers);

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
