import { describe, expect, it } from "vitest";
import { itemSchema, checkItemInput } from "../../manifest/item-schema.js";
import { toNativeItem, type AnthropicMessageParams } from "./create-request.js";
import { Refusal } from "./message-content.js";

const known = new Set(["claude-haiku-4", "gpt-4o-mini"]);
const item = (params: Partial<AnthropicMessageParams> & Record<string, unknown>) =>
  toNativeItem(
    { custom_id: "r1", params: { model: "claude-haiku-4", max_tokens: 20, messages: [{ role: "user", content: "hi" }], ...params } },
    known,
  );

/** The path (relative to params) and message a request is refused with. */
function refusal(params: Record<string, unknown>): { path: (string | number)[]; message: string } {
  try {
    item(params);
  } catch (e) {
    if (e instanceof Refusal) return { path: e.path, message: e.message };
    throw e;
  }
  throw new Error("expected a refusal");
}

// Every translated item must be one the native create accepts.
function expectNative(it: ReturnType<typeof item>) {
  const parsed = itemSchema.parse(it);
  expect(checkItemInput(parsed, it.operation)).toEqual([]);
}

describe("Anthropic tool traffic and images as native chat messages", () => {
  const conversation = [
    { role: "user" as const, content: "Weather in Paris?" },
    {
      role: "assistant" as const,
      content: [
        { type: "text", text: "Let me look." },
        { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } },
      ],
    },
    {
      role: "user" as const,
      content: [
        { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18C, sunny" }] },
        { type: "text", text: "And tomorrow?" },
      ],
    },
  ];

  it("turns tool_use into tool_calls and tool_result into a tool message ahead of the user's text", () => {
    const it = item({ messages: conversation });
    expect(it.input.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: [{ type: "text", text: "Let me look." }],
        tool_calls: [{ id: "toolu_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", tool_call_id: "toolu_1", content: [{ type: "text", text: "18C, sunny" }] },
      { role: "user", content: [{ type: "text", text: "And tomorrow?" }] },
    ]);
    expect(it.operation).toBe("responses");
    expectNative(it);
  });

  it("gives an assistant turn of tool calls only a null content, and a string tool_result stays a string", () => {
    const it = item({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "t", name: "f", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "done" }] },
      ],
    });
    expect(it.input.messages).toEqual([
      { role: "user", content: "go" },
      { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "t", content: "done" },
    ]);
    expectNative(it);
  });

  it("turns base64 images into data: URLs and url images into https URLs, as a vision item", () => {
    const it = item({
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            { type: "text", text: "Same animal?" },
          ],
        },
      ],
    });
    expect(it.operation).toBe("vision");
    expect(it.input.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          { type: "text", text: "Same animal?" },
        ],
      },
    ]);
    expectNative(it);
  });

  it("maps every tool_choice, with disable_parallel_tool_use as parallel_tool_calls: false", () => {
    const tools = [{ name: "f", description: "F.", input_schema: { type: "object" }, strict: true }];
    expect(item({ tools, tool_choice: { type: "auto" } }).input).toMatchObject({
      tools: [{ type: "function", function: { name: "f", description: "F.", parameters: { type: "object" }, strict: true } }],
      tool_choice: "auto",
    });
    expect(item({ tools, tool_choice: { type: "none" } }).input.tool_choice).toBe("none");
    expect(item({ tools, tool_choice: { type: "any" } }).input.tool_choice).toBe("required");
    const one = item({ tools, tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true } });
    expect(one.input).toMatchObject({ tool_choice: { type: "function", function: { name: "f" } }, parallel_tool_calls: false });
    expectNative(one);
  });
});

describe("Anthropic output controls", () => {
  it("takes a JSON-schema output format as a strict response_format, and metadata.user_id as user", () => {
    const schema = { type: "object", properties: { label: { type: "string" } }, required: ["label"], additionalProperties: false };
    const it = item({ output_config: { format: { type: "json_schema", schema } }, metadata: { user_id: "u-9" }, top_k: 5 });
    expect(it.input).toMatchObject({
      response_format: { type: "json_schema", json_schema: { name: "output", schema, strict: true } },
      user: "u-9",
      top_k: 5,
    });
    expectNative(it);
  });

  it("refuses what has no native counterpart, naming the field", () => {
    expect(refusal({ output_config: { effort: "high" } })).toMatchObject({ path: ["output_config", "effort"] });
    expect(refusal({ output_config: { format: { type: "text" } } })).toMatchObject({ path: ["output_config", "format"] });
    expect(refusal({ thinking: { type: "enabled", budget_tokens: 1024 } })).toMatchObject({ path: ["thinking"] });
    expect(refusal({ service_tier: "auto" })).toMatchObject({ path: ["service_tier"], message: expect.stringContaining("not supported") });
    expect(refusal({ stream: true })).toMatchObject({ path: ["stream"] });
    expect(refusal({ metadata: { user_id: "u", other: "x" } })).toMatchObject({ path: ["metadata"] });
    // Defaults that change nothing are fine.
    expect(() => item({ stream: false, thinking: { type: "disabled" }, output_config: { effort: null } })).not.toThrow();
  });
});

describe("prompt caching hints", () => {
  it("accepts cache_control on system and message blocks and runs the same item without it", () => {
    const cached = item({
      system: [{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }] }],
    });
    const plain = item({
      system: [{ type: "text", text: "You are terse." }],
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
    expect(cached).toEqual(plain);
    expectNative(cached);
  });
});

describe("Anthropic blocks the native item can't carry", () => {
  const user = (content: unknown[]) => ({ messages: [{ role: "user", content }] });
  it.each([
    [
      "an image file source",
      user([{ type: "image", source: { type: "file", file_id: "f" } }]),
      ["messages", 0, "content", 0, "source", "type"],
    ],
    ["an http image", user([{ type: "image", source: { type: "url", url: "http://x/y.png" } }]), ["messages", 0, "content", 0, "source"]],
    ["a document block", user([{ type: "document", source: {} }]), ["messages", 0, "content", 0, "type"]],
    [
      "an errored tool_result",
      user([{ type: "tool_result", tool_use_id: "t", is_error: true }]),
      ["messages", 0, "content", 0, "is_error"],
    ],
    [
      "an image in a tool_result",
      user([{ type: "tool_result", tool_use_id: "t", content: [{ type: "image", source: {} }] }]),
      ["messages", 0, "content", 0, "content", 0],
    ],
    [
      "a thinking block",
      {
        messages: [
          { role: "user", content: "q" },
          { role: "assistant", content: [{ type: "thinking", thinking: "…" }] },
        ],
      },
      ["messages", 1, "content", 0, "type"],
    ],
    ["a server tool", { tools: [{ type: "web_search_20250305", name: "web_search" }] }, ["tools", 0, "type"]],
    ["an unknown model", { model: "claude-instant-1" }, ["model"]],
  ])("refuses %s with its path", (_what, params, path) => {
    expect(refusal(params as Record<string, unknown>).path).toEqual(path);
  });
});
