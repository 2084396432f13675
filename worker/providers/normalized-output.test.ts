import { describe, expect, it } from "vitest";
import {
  embeddingsOutput,
  fromAnthropicMessage,
  fromChatCompletion,
  fromEmbeddingsResponse,
  fromResponsesApi,
  normalizeUsage,
  textOutput,
} from "./normalized-output.js";

describe("normalised outputs from provider bodies", () => {
  it("reads an OpenAI chat completion, tool calls included", () => {
    const { output, usage } = fromChatCompletion(
      {
        id: "chatcmpl-1",
        model: "gpt-4o-mini-2024-07-18",
        choices: [
          {
            index: 0,
            finish_reason: "tool_calls",
            message: {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }],
            },
          },
        ],
        usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
      },
      "gpt-4o-mini",
    );
    expect(output).toEqual({
      text: "",
      content: [{ type: "tool_call", id: "call_1", name: "f", arguments: '{"a":1}' }],
      tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }],
      finish_reason: "tool_calls",
      model: "gpt-4o-mini-2024-07-18",
      provider_response_id: "chatcmpl-1",
    });
    expect(usage).toEqual({ input_tokens: 12, output_tokens: 7 });
  });

  it("reads a Responses API body, incomplete means length", () => {
    const { output, usage } = fromResponsesApi(
      {
        id: "resp_1",
        model: "gpt-5.4-mini",
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        output: [
          { type: "reasoning" },
          {
            type: "message",
            role: "assistant",
            content: [
              { type: "output_text", text: "Hel" },
              { type: "output_text", text: "lo" },
            ],
          },
        ],
        usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
      },
      "x",
    );
    expect(output).toMatchObject({ text: "Hello", finish_reason: "length", provider_response_id: "resp_1", tool_calls: [] });
    expect(usage).toEqual({ input_tokens: 5, output_tokens: 2 });
  });

  it("reads an Anthropic message: tool_use becomes a tool call, cache tokens count as input", () => {
    const { output, usage } = fromAnthropicMessage(
      {
        id: "msg_1",
        type: "message",
        model: "claude-haiku-4",
        stop_reason: "tool_use",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "lookup", input: { q: "x" } },
        ],
        usage: { input_tokens: 10, cache_read_input_tokens: 4, output_tokens: 3 },
      },
      "claude-haiku-4",
    );
    expect(output.text).toBe("Checking.");
    expect(output.tool_calls).toEqual([{ id: "toolu_1", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } }]);
    expect(output.finish_reason).toBe("tool_calls");
    expect(usage).toEqual({ input_tokens: 14, output_tokens: 3 });
  });

  it("reads embeddings in index order", () => {
    const { output, usage } = fromEmbeddingsResponse({
      object: "list",
      data: [
        { index: 1, embedding: [0, 1] },
        { index: 0, embedding: [1, 0] },
      ],
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(output).toEqual({
      embeddings: [
        [1, 0],
        [0, 1],
      ],
      dimensions: 2,
    });
    expect(usage).toEqual({ input_tokens: 4, output_tokens: 0 });
  });

  it("builds outputs and tolerates missing usage", () => {
    expect(textOutput({ text: "hi", finish_reason: "stop", model: "m", provider_response_id: "r" }).content).toEqual([
      { type: "output_text", text: "hi" },
    ]);
    expect(() => embeddingsOutput([[1], [1, 2]])).toThrow(RangeError);
    expect(normalizeUsage(undefined)).toEqual({ input_tokens: 0, output_tokens: 0 });
  });
});
