import type { EmbeddingsOutput, FinishReason, OutputContentPart, TextOutput, ToolCall, Usage } from "./types.js";

/**
 * One output shape whatever provider ran the item (api.md §3b). The simulator builds outputs with
 * these helpers, and the real adapters turn provider bodies into the same shapes with the `from*`
 * parsers, so a customer can't tell from the shape which provider answered.
 */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const int = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? Math.max(0, Math.round(v)) : 0);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);

/** Builds a text output; `content` lists the text and the tool calls as parts, in that order. */
export function textOutput(init: {
  text: string;
  tool_calls?: ToolCall[];
  finish_reason: FinishReason;
  model: string;
  provider_response_id: string;
}): TextOutput {
  const toolCalls = init.tool_calls ?? [];
  const content: OutputContentPart[] = [
    ...(init.text ? [{ type: "output_text" as const, text: init.text }] : []),
    ...toolCalls.map((c) => ({ type: "tool_call" as const, id: c.id, name: c.function.name, arguments: c.function.arguments })),
  ];
  return {
    text: init.text,
    content,
    tool_calls: toolCalls,
    finish_reason: init.finish_reason,
    model: init.model,
    provider_response_id: init.provider_response_id,
  };
}

/** Builds an embeddings output; every vector must have the same length. */
export function embeddingsOutput(vectors: number[][]): EmbeddingsOutput {
  const dimensions = vectors[0]?.length ?? 0;
  if (vectors.some((v) => v.length !== dimensions)) throw new RangeError("embedding vectors differ in length");
  return { embeddings: vectors, dimensions };
}

/**
 * `{input_tokens, output_tokens}` from any provider's usage block: OpenAI chat and embeddings
 * (prompt_tokens / completion_tokens), OpenAI Responses and Anthropic (input_tokens / output_tokens).
 * Anthropic reports prompt-cache tokens apart from input_tokens; they are input the provider billed,
 * so they count as input here.
 */
export function normalizeUsage(raw: unknown): Usage {
  const u = obj(raw);
  const input = "input_tokens" in u ? int(u.input_tokens) : int(u.prompt_tokens);
  const cached = int(u.cache_creation_input_tokens) + int(u.cache_read_input_tokens);
  const output = "output_tokens" in u ? int(u.output_tokens) : int(u.completion_tokens);
  return { input_tokens: input + cached, output_tokens: output };
}

/** Maps OpenAI, Responses and Anthropic stop reasons onto our four. */
export function normalizeFinishReason(raw: unknown): FinishReason {
  switch (raw) {
    case "length":
    case "max_tokens":
    case "max_output_tokens":
      return "length";
    case "tool_calls":
    case "function_call":
    case "tool_use":
      return "tool_calls";
    case "content_filter":
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** OpenAI `/v1/chat/completions` response body → output and usage. */
export function fromChatCompletion(body: unknown, fallbackModel: string): { output: TextOutput; usage: Usage } {
  const b = obj(body);
  const choice = obj(arr(b.choices)[0]);
  const message = obj(choice.message);
  const toolCalls: ToolCall[] = arr(message.tool_calls).map((c) => {
    const fn = obj(obj(c).function);
    return { id: str(obj(c).id), type: "function", function: { name: str(fn.name), arguments: str(fn.arguments, "{}") } };
  });
  const text = typeof message.content === "string" ? message.content : "";
  return {
    output: textOutput({
      text,
      tool_calls: toolCalls,
      finish_reason: normalizeFinishReason(choice.finish_reason),
      model: str(b.model, fallbackModel),
      provider_response_id: str(b.id),
    }),
    usage: normalizeUsage(b.usage),
  };
}

/** OpenAI `/v1/responses` response body → output and usage. */
export function fromResponsesApi(body: unknown, fallbackModel: string): { output: TextOutput; usage: Usage } {
  const b = obj(body);
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  let refused = false;
  for (const entry of arr(b.output).map(obj)) {
    if (entry.type === "message") {
      for (const part of arr(entry.content).map(obj)) {
        if (part.type === "output_text") texts.push(str(part.text));
        if (part.type === "refusal") refused = true;
      }
    } else if (entry.type === "function_call") {
      toolCalls.push({
        id: str(entry.call_id, str(entry.id)),
        type: "function",
        function: { name: str(entry.name), arguments: str(entry.arguments, "{}") },
      });
    }
  }
  const incomplete = str(obj(b.incomplete_details).reason);
  const finish: FinishReason =
    b.status === "incomplete"
      ? normalizeFinishReason(incomplete === "content_filter" ? "content_filter" : "length")
      : refused
        ? "content_filter"
        : toolCalls.length > 0
          ? "tool_calls"
          : "stop";
  return {
    output: textOutput({
      text: texts.join(""),
      tool_calls: toolCalls,
      finish_reason: finish,
      model: str(b.model, fallbackModel),
      provider_response_id: str(b.id),
    }),
    usage: normalizeUsage(b.usage),
  };
}

/** Anthropic Messages response body → output and usage (tool_use blocks become tool calls). */
export function fromAnthropicMessage(body: unknown, fallbackModel: string): { output: TextOutput; usage: Usage } {
  const b = obj(body);
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of arr(b.content).map(obj)) {
    if (block.type === "text") texts.push(str(block.text));
    if (block.type === "tool_use") {
      toolCalls.push({
        id: str(block.id),
        type: "function",
        function: { name: str(block.name), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  return {
    output: textOutput({
      text: texts.join(""),
      tool_calls: toolCalls,
      finish_reason: normalizeFinishReason(b.stop_reason),
      model: str(b.model, fallbackModel),
      provider_response_id: str(b.id),
    }),
    usage: normalizeUsage(b.usage),
  };
}

/** OpenAI `/v1/embeddings` response body → output (vectors in input order) and usage. */
export function fromEmbeddingsResponse(body: unknown): { output: EmbeddingsOutput; usage: Usage } {
  const b = obj(body);
  // The API documents `index` on each entry; sort by it rather than trusting array order.
  const data = arr(b.data)
    .map(obj)
    .sort((x, y) => int(x.index) - int(y.index));
  const vectors = data.map((d) => arr(d.embedding).map((n) => Number(n)));
  return { output: embeddingsOutput(vectors), usage: { input_tokens: normalizeUsage(b.usage).input_tokens, output_tokens: 0 } };
}
