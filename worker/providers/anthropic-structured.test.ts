import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnthropicFake, startAnthropicFake } from "../../test/fakes/anthropic-fake.js";
import { anthropicBatchAdapter } from "./anthropic-batch.js";
import { anthropicParams, JSON_OBJECT_INSTRUCTION } from "./anthropic-requests.js";
import { chatItem, collectAll, request, testLane, workItem } from "./test-fixtures.js";
import type { ProviderJobRef, TextOutput, WorkUnitItem } from "./types.js";

// Structured output on an Anthropic lane: the item's JSON schema travels as `output_config.format`,
// and the fake (which answers with an instance of the schema it was sent) proves it arrived intact.

const lane = testLane({ provider: "anthropic", model: "claude-haiku-4", protocol: "anthropic-batch", served_as: "claude-haiku-5-5" });
const schema = {
  type: "object",
  properties: { label: { type: "string", enum: ["bug", "question"] }, confidence: { type: "number" }, summary: { type: "string" } },
  required: ["label", "confidence", "summary"],
  additionalProperties: false,
};

let fake: AnthropicFake;
beforeAll(async () => {
  fake = await startAnthropicFake({ apiKey: "sk-ant-structured-test", turnaroundMs: 0, models: ["claude-haiku-5-5"] });
});
afterAll(() => fake.close());

const asUnit = (items: WorkUnitItem[]) => items.map((it, i) => ({ ...it, item_id: `bat_01JSON:${i}` }));

describe("anthropicParams and response_format", () => {
  it("a json_schema (chat or Responses spelling) becomes output_config.format", () => {
    const chat = chatItem("a", "Classify: the app crashes", {
      input: {
        messages: [{ role: "user", content: "Classify: the app crashes" }],
        response_format: { type: "json_schema", json_schema: { name: "ticket", strict: true, schema } },
      },
    });
    const responses = workItem("b", {
      input: { input: "Classify: a question", text: { format: { type: "json_schema", name: "t", schema } } },
    });
    for (const it of [chat, responses]) {
      const params = anthropicParams(it, lane);
      expect(params.output_config).toEqual({ format: { type: "json_schema", schema } });
      expect(params.system).toBeUndefined();
    }
  });

  it("json_object has no schema to send: it is asked for in system, after the item's own", () => {
    const it = workItem("c", {
      input: {
        messages: [
          { role: "system", content: "You label tickets. Answer in JSON." },
          { role: "user", content: "Label this" },
        ],
        response_format: { type: "json_object" },
      },
    });
    const params = anthropicParams(it, lane);
    expect(params.output_config).toBeUndefined();
    expect(params.system).toBe(`You label tickets. Answer in JSON.\n\n${JSON_OBJECT_INSTRUCTION}`);
    expect(anthropicParams(chatItem("d", "plain"), lane)).not.toHaveProperty("output_config");
  });
});

describe("anthropic batch adapter with structured output", () => {
  it("sends the schema; the provider's answer follows it and arrives as the item's text", async () => {
    const adapter = anthropicBatchAdapter(lane, {
      slug: "anthropic",
      kind: "anthropic",
      baseUrl: fake.baseUrl,
      apiKey: fake.apiKey,
      maxConcurrency: 2,
      requestsPerMinute: 0,
    });
    const items = asUnit([
      chatItem("j", "Classify: the app crashes", {
        input: {
          messages: [{ role: "user", content: "Classify: the app crashes" }],
          response_format: { type: "json_schema", json_schema: { name: "ticket", schema } },
        },
      }),
      chatItem("p", "Say hello"),
    ]);
    const req = request(items, lane);
    const ref: ProviderJobRef = await adapter.submit(req);
    for (let i = 0; i < 500 && (await adapter.poll(ref)).status === "in_progress"; i++) await new Promise((r) => setTimeout(r, 10));
    const byId = new Map((await collectAll(adapter, ref, req)).map((r) => [r.item_id, r]));

    const sent = [...fake.state.batches.values()].at(-1)!.requests;
    expect(sent[0]!.params).toMatchObject({ output_config: { format: { type: "json_schema", schema } } });
    expect(sent[1]!.params).not.toHaveProperty("output_config");
    const answer = JSON.parse((byId.get("bat_01JSON:0")!.output as TextOutput).text);
    expect(answer).toEqual({ label: "bug", confidence: 0, summary: "echo: Classify: the app crashes" });
    expect((byId.get("bat_01JSON:1")!.output as TextOutput).text).toBe("echo: Say hello");
  });

  it("the fake answers the official SDK's output_config with JSON of the schema", async () => {
    const client = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries: 0 });
    const message = await client.messages.create({
      model: "claude-haiku-5-5",
      max_tokens: 200,
      messages: [{ role: "user", content: "Classify: a question" }],
      output_config: { format: { type: "json_schema", schema } },
    });
    const block = message.content[0];
    if (block?.type !== "text") throw new Error(`expected text, got ${block?.type}`);
    expect(JSON.parse(block.text)).toEqual({ label: "bug", confidence: 0, summary: "echo: Classify: a question" });
  });

  it("the fake refuses a malformed output_config per request, as the API does", async () => {
    const res = await fetch(`${fake.baseUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": fake.apiKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-5-5",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
        output_config: { format: { type: "json_object" } },
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("output_config.format.type") },
    });
  });
});
