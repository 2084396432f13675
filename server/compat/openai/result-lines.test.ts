import { describe, expect, it } from "vitest";
import { endpointOf, openAiResultLine, statusCodeOf, type ResultItem } from "./result-lines.js";

const finished = new Date(1_700_000_000_000);

function item(patch: Partial<ResultItem>): ResultItem {
  return {
    idx: 0,
    customer_item_id: "t-1",
    operation: "responses",
    item: { model: "gpt-4o-mini", input: { messages: [{ role: "user", content: "hi" }] } },
    status: "completed",
    output: { text: "Hello", content: [], tool_calls: [], finish_reason: "stop", model: "gpt-4o-mini", provider_response_id: "simresp_1" },
    error: null,
    input_tokens: 7,
    output_tokens: 3,
    lane_id: "openai/gpt-4o-mini/batch",
    finished_at: finished,
    ...patch,
  };
}

describe("OpenAI output and error lines", () => {
  it("tells the endpoint from the item's operation and input shape", () => {
    expect(endpointOf("embeddings", { input: ["a"] })).toBe("/v1/embeddings");
    expect(endpointOf("responses", { messages: [] })).toBe("/v1/chat/completions");
    expect(endpointOf("vision", { messages: [] })).toBe("/v1/chat/completions");
    expect(endpointOf("responses", { input: "x" })).toBe("/v1/responses");
  });

  it("builds a chat.completion with usage for a chat item", () => {
    const line = openAiResultLine("bat_1", item({}));
    expect(line.id).toMatch(/^batch_req_[0-9a-f]{24}$/);
    expect(line).toMatchObject({ custom_id: "t-1", error: null, response: { status_code: 200 } });
    expect(line.response!.body).toEqual({
      id: "chatcmpl-simresp_1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "gpt-4o-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello", refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      system_fingerprint: null,
    });
    // Stable: a file read twice has the same ids.
    expect(openAiResultLine("bat_1", item({})).id).toBe(line.id);
    expect(openAiResultLine("bat_1", item({ idx: 1 })).id).not.toBe(line.id);
  });

  it("carries tool calls on the chat message and as function_call items of a response", () => {
    const call = { id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } };
    const output = {
      text: "",
      content: [],
      tool_calls: [call],
      finish_reason: "tool_calls",
      model: "gpt-4o-mini",
      provider_response_id: "r",
    };
    const chat = openAiResultLine("bat_1", item({ output })).response!.body as { choices: { message: unknown }[] };
    expect(chat.choices[0]!.message).toEqual({ role: "assistant", content: null, refusal: null, tool_calls: [call] });
    const resp = openAiResultLine("bat_1", item({ output, item: { input: { input: "x" } } })).response!.body as { output: unknown[] };
    expect(resp.output).toEqual([
      { type: "function_call", id: "fc_call_1", call_id: "call_1", name: "lookup", arguments: "{}", status: "completed" },
    ]);
  });

  it("builds a response for a Responses item, incomplete when cut at the token cap", () => {
    const it = item({ item: { model: "gpt-4o-mini", input: { input: "Say hi" } } });
    const body = openAiResultLine("bat_1", it).response!.body as Record<string, unknown>;
    expect(body).toMatchObject({
      id: "resp_simresp_1",
      object: "response",
      created_at: 1_700_000_000,
      status: "completed",
      incomplete_details: null,
      output: [
        { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Hello", annotations: [] }] },
      ],
      usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10 },
    });
    const cut = openAiResultLine("bat_1", { ...it, output: { ...(it.output as object), finish_reason: "length" } }).response!.body;
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });

  it("builds an embedding list for an embeddings item", () => {
    const it = item({
      operation: "embeddings",
      item: { model: "text-embedding-3-small", input: { input: ["a", "b"] } },
      output: { embeddings: [[0.1], [0.2]], dimensions: 1 },
      output_tokens: 0,
      lane_id: "openai/text-embedding-3-small/batch",
    });
    expect(openAiResultLine("bat_1", it).response!.body).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0.1] },
        { object: "embedding", index: 1, embedding: [0.2] },
      ],
      model: "text-embedding-3-small",
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
  });

  it("gives a failed request a non-2xx status and an OpenAI error body", () => {
    const failed = item({ status: "failed", output: null, error: { code: "content_policy", message: "refused" } });
    expect(openAiResultLine("bat_1", failed)).toMatchObject({
      error: null,
      response: {
        status_code: 400,
        body: { error: { message: "refused", type: "invalid_request_error", param: null, code: "content_policy" } },
      },
    });
    const provider = item({ status: "failed", output: null, error: { code: "provider_error", message: "x", provider_status: 503 } });
    expect(openAiResultLine("bat_1", provider).response).toMatchObject({ status_code: 503, body: { error: { type: "server_error" } } });
  });

  it("gives a request the batch never ran response null and OpenAI's batch error code", () => {
    const cancelled = item({ status: "cancelled", output: null, error: { code: "cancelled", message: "cancelled first" } });
    expect(openAiResultLine("bat_1", cancelled)).toMatchObject({
      response: null,
      error: { code: "batch_cancelled", message: "cancelled first" },
    });
    const expired = item({ status: "expired", output: null, error: null });
    expect(openAiResultLine("bat_1", expired)).toMatchObject({ response: null, error: { code: "batch_expired" } });
  });

  it("maps our error codes to HTTP statuses", () => {
    expect(statusCodeOf({ code: "invalid_input" })).toBe(400);
    expect(statusCodeOf({ code: "timeout" })).toBe(408);
    expect(statusCodeOf({ code: "provider_error" })).toBe(500);
    expect(statusCodeOf({ code: "provider_error", provider_status: 429 })).toBe(429);
  });
});
