import { createHash } from "node:crypto";
import { statusCodeOf, type ResultItem } from "../openai/result-lines.js";
import { anthropicErrorType } from "./errors.js";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Our four finish reasons as Anthropic's stop reasons. */
const STOP_REASON: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
};

// Stable per batch and item, so results read twice carry the same message ids.
const messageId = (batchId: string, idx: number) =>
  `msg_${createHash("sha256").update(`${batchId}\u0000${idx}`).digest("hex").slice(0, 24)}`;

const modelOf = (it: ResultItem, out: Json): string =>
  typeof out.model === "string" ? out.model : (it.lane_id?.split("/")[1] ?? String(it.item.model ?? ""));

// A tool call's arguments are a JSON string in our (OpenAI-style) output; Anthropic's `input` is the object.
function toolInput(args: unknown): unknown {
  if (typeof args !== "string") return obj(args);
  try {
    return JSON.parse(args);
  } catch {
    return {};
  }
}

/** Our normalised output as an Anthropic Message: text first, then any tool calls as `tool_use` blocks. */
export function messageOf(batchId: string, it: ResultItem) {
  const out = obj(it.output);
  const text = typeof out.text === "string" ? out.text : "";
  const tools = arr(out.tool_calls).map((c) => {
    const call = obj(c);
    const fn = obj(call.function);
    return { type: "tool_use" as const, id: String(call.id ?? ""), name: String(fn.name ?? ""), input: toolInput(fn.arguments) };
  });
  return {
    id: messageId(batchId, it.idx),
    type: "message" as const,
    role: "assistant" as const,
    model: modelOf(it, out),
    content: [...(text !== "" || tools.length === 0 ? [{ type: "text" as const, text }] : []), ...tools],
    stop_reason: STOP_REASON[String(out.finish_reason ?? "stop")] ?? "end_turn",
    stop_sequence: null,
    usage: { input_tokens: it.input_tokens ?? 0, output_tokens: it.output_tokens ?? 0 },
  };
}

/**
 * One line of Anthropic's results JSONL: `{custom_id, result}` with `succeeded` (the Message),
 * `errored` (an error envelope whose type follows the failure's HTTP status), `canceled` or `expired`.
 */
export function anthropicResultLine(batchId: string, it: ResultItem) {
  const custom_id = it.customer_item_id;
  if (it.status === "completed") return { custom_id, result: { type: "succeeded" as const, message: messageOf(batchId, it) } };
  if (it.status === "cancelled") return { custom_id, result: { type: "canceled" as const } };
  if (it.status === "expired") return { custom_id, result: { type: "expired" as const } };
  const error = it.error ?? { code: it.status, message: `The request ended ${it.status}.` };
  return {
    custom_id,
    result: {
      type: "errored" as const,
      error: { type: "error" as const, error: { type: anthropicErrorType(statusCodeOf(error)), message: error.message } },
    },
  };
}
