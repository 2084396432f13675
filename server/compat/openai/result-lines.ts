import { createHash } from "node:crypto";
import type { BatchItemRow } from "../../../db/queries/batch-items.js";
import type { OpenAiEndpoint } from "./batch-object.js";
import { COMPLETIONS_ENDPOINT, completionBody, isCompletionsItem } from "./completions.js";

/** What one output or error line is built from: a finished item of the batch. */
export type ResultItem = Pick<
  BatchItemRow,
  | "idx"
  | "customer_item_id"
  | "operation"
  | "item"
  | "status"
  | "output"
  | "error"
  | "input_tokens"
  | "output_tokens"
  | "lane_id"
  | "finished_at"
>;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The endpoint an item came in through. Items keep no URL: an OpenAI line's body becomes the item's
 * input unchanged, and the batch create checked that a chat line has `messages` and a Responses line
 * `input`, so the input's shape says which it was.
 */
export function endpointOf(operation: string, input: unknown, metadata?: unknown): OpenAiEndpoint {
  if (operation === "embeddings") return "/v1/embeddings";
  if (isCompletionsItem(metadata)) return COMPLETIONS_ENDPOINT;
  return obj(input).messages !== undefined ? "/v1/chat/completions" : "/v1/responses";
}

// Stable per batch and item, so a file read twice has the same ids.
const hashId = (prefix: string, ...parts: (string | number)[]) =>
  `${prefix}${createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 24)}`;

const modelOf = (it: ResultItem, output: Json): string =>
  typeof output.model === "string" ? output.model : (it.lane_id?.split("/")[1] ?? String(it.item.model ?? ""));

/** OpenAI's HTTP status for one of our item error codes (a provider's own status wins when we have it). */
export function statusCodeOf(error: { code: string; provider_status?: number }): number {
  if (error.provider_status && error.provider_status >= 400) return error.provider_status;
  switch (error.code) {
    case "invalid_input":
    case "content_policy":
    case "context_length_exceeded":
      return 400;
    case "rate_limited":
      return 429;
    case "timeout":
      return 408;
    default:
      return 500;
  }
}

interface Usage {
  input: number;
  output: number;
}

function chatBody(it: ResultItem, out: Json, usage: Usage, created: number) {
  const toolCalls = arr(out.tool_calls);
  const text = typeof out.text === "string" && out.text !== "" ? out.text : null;
  return {
    id: `chatcmpl-${String(out.provider_response_id ?? hashId("", it.customer_item_id))}`,
    object: "chat.completion",
    created,
    model: modelOf(it, out),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: out.finish_reason ?? "stop",
      },
    ],
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
    system_fingerprint: null,
  };
}

function responseBody(it: ResultItem, out: Json, usage: Usage, created: number) {
  const id = String(out.provider_response_id ?? hashId("", it.customer_item_id));
  const text = typeof out.text === "string" ? out.text : "";
  const calls = arr(out.tool_calls).map((c) => {
    const call = obj(c);
    const fn = obj(call.function);
    return {
      type: "function_call",
      id: `fc_${String(call.id)}`,
      call_id: call.id,
      name: fn.name,
      arguments: fn.arguments,
      status: "completed",
    };
  });
  const message = {
    type: "message",
    id: `msg_${id}`,
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [] }],
  };
  const incomplete = out.finish_reason === "length";
  return {
    id: `resp_${id}`,
    object: "response",
    created_at: created,
    status: incomplete ? "incomplete" : "completed",
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    error: null,
    model: modelOf(it, out),
    output: [...(text !== "" || calls.length === 0 ? [message] : []), ...calls],
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.input + usage.output,
    },
  };
}

function embeddingsBody(it: ResultItem, out: Json, usage: Usage) {
  return {
    object: "list",
    data: arr(out.embeddings).map((embedding, index) => ({ object: "embedding", index, embedding })),
    model: modelOf(it, out),
    usage: { prompt_tokens: usage.input, total_tokens: usage.input },
  };
}

/** The success body the endpoint would have answered, built from our normalised output and usage. */
export function responseBodyOf(it: ResultItem) {
  const out = obj(it.output);
  const usage = { input: it.input_tokens ?? 0, output: it.output_tokens ?? 0 };
  const created = Math.floor((it.finished_at ?? new Date()).getTime() / 1000);
  const endpoint = endpointOf(it.operation, it.item.input, it.item.metadata);
  if (endpoint === "/v1/embeddings") return embeddingsBody(it, out, usage);
  if (endpoint === COMPLETIONS_ENDPOINT)
    return completionBody(String(out.provider_response_id ?? hashId("", it.customer_item_id)), modelOf(it, out), out, usage, created);
  return endpoint === "/v1/chat/completions" ? chatBody(it, out, usage, created) : responseBody(it, out, usage, created);
}

/** Why a request never ran, in OpenAI's codes for a batch that was cancelled or expired. */
const NOT_RUN: Record<string, string> = { cancelled: "batch_cancelled", expired: "batch_expired" };

/**
 * One line of an OpenAI output or error file: `{id, custom_id, response: {status_code, request_id,
 * body}, error}`. A failed request carries its error body under a non-2xx status; a request the
 * batch never ran (cancelled, expired) has `response: null` and a batch-level `error`, as OpenAI does.
 */
export function openAiResultLine(batchId: string, it: ResultItem) {
  const id = hashId("batch_req_", batchId, it.idx);
  const requestId = hashId("req_", batchId, it.idx, it.status);
  if (it.status === "completed") {
    return {
      id,
      custom_id: it.customer_item_id,
      response: { status_code: 200, request_id: requestId, body: responseBodyOf(it) },
      error: null,
    };
  }
  const error = it.error ?? { code: it.status, message: `The request ended ${it.status}.` };
  const notRun = NOT_RUN[it.status];
  if (notRun) return { id, custom_id: it.customer_item_id, response: null, error: { code: notRun, message: error.message } };
  const status = statusCodeOf(error);
  const type = status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
  return {
    id,
    custom_id: it.customer_item_id,
    response: {
      status_code: status,
      request_id: requestId,
      body: { error: { message: error.message, type, param: null, code: error.code } },
    },
    error: null,
  };
}
