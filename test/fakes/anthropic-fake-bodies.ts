// Pure wire-shape rules for the Anthropic fake (test/fakes/anthropic-fake.ts): params validation,
// deterministic assistant messages, token counts and error envelopes. Kept apart from the HTTP server so
// the rules that decide a result are readable on their own and a test can compute the expected numbers.
// Written from Anthropic's public protocol and the official SDK's types, never from this repo's code.

import { outputSchema, sampleOf, validateOutputConfig } from "./anthropic-fake-json.js";
import { mulberry32 } from "../../worker/providers/hash.js";

export type Json = Record<string, unknown>;

/** API versions the fake answers. SDK 1.x sends 2026-10-21; curl examples and older SDKs send 2023-06-01. */
export const V2023 = "2023-06-01";
export const V2026 = "2026-10-21";
export const KNOWN_VERSIONS: readonly string[] = [V2023, V2026];

export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

export interface ErrorObject {
  type: string;
  message: string;
}

/** Anthropic's error body, the same on HTTP errors and inside an `errored` batch result. */
export function envelope(type: string, message: string, requestId: string | null) {
  return { type: "error" as const, error: { type, message }, request_id: requestId };
}

/** mulberry32 (a tiny seeded PRNG), so a run replays identically for one seed. */
export const seededRandom = mulberry32;

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Ids shaped like the real ones (`msgbatch_01…`, `msg_01…`, `toolu_01…`, `req_01…`). */
export function makeId(prefix: string, rand: () => number): string {
  let s = `${prefix}01`;
  for (let i = 0; i < 22; i++) s += B62[Math.floor(rand() * 62)];
  return s;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

export const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Text of a `content` (string or blocks); tool_result blocks count through their own content. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((b) => {
      if (!isObj(b)) return "";
      if (b.type === "text" && typeof b.text === "string") return b.text;
      if (b.type === "tool_result") return contentText(b.content);
      return "";
    })
    .join("");
}

const messagesOf = (p: Json): Json[] => (Array.isArray(p.messages) ? p.messages.filter(isObj) : []);

/** Top-level `system` plus, under 2026-10-21, `system`-role messages: both are instructions, both are billed. */
function systemText(p: Json): string {
  const inline = messagesOf(p)
    .filter((m) => m.role === "system")
    .map((m) => contentText(m.content));
  return [contentText(p.system), ...inline].join("");
}

function conversationText(p: Json): string {
  return messagesOf(p)
    .filter((m) => m.role !== "system")
    .map((m) => contentText(m.content))
    .join("");
}

export function lastUserText(p: Json): string {
  const users = messagesOf(p).filter((m) => m.role === "user");
  return users.length ? contentText(users[users.length - 1].content) : "";
}

/** ceil(chars / 4) over system + every message + the tool definitions' JSON; at least 1. */
export function countInputTokens(p: Json): number {
  const tools = Array.isArray(p.tools) ? JSON.stringify(p.tools).length : 0;
  return Math.max(1, Math.ceil((systemText(p).length + conversationText(p).length + tools) / 4));
}

/** Prompt triggers that make one request fail the way the real service can. */
const TRIGGERS: Record<string, ErrorObject> = {
  invalid: { type: "invalid_request_error", message: "fake trigger [fail:invalid]: the request was refused" },
  overloaded: { type: "overloaded_error", message: "Overloaded" },
  api: { type: "api_error", message: "Internal server error" },
};
export function triggeredError(p: Json): ErrorObject | null {
  const m = /\[fail:(invalid|overloaded|api)\]/.exec(`${systemText(p)}\n${conversationText(p)}`);
  return m ? TRIGGERS[m[1]] : null;
}

export interface ValidateOptions {
  version: string;
  models?: readonly string[];
  /** count_tokens takes no max_tokens. */
  countOnly?: boolean;
  /** Inside a batch, `stream` is refused per request. */
  inBatch?: boolean;
}

/** The first problem with a Messages body, worded like the API's field errors; null when valid. */
export function validateParams(p: unknown, o: ValidateOptions): ErrorObject | null {
  const bad = (message: string): ErrorObject => ({ type: "invalid_request_error", message });
  if (!isObj(p)) return bad("params: Input should be a valid dictionary");
  if (p.model === undefined) return bad("model: Field required");
  if (typeof p.model !== "string" || p.model === "") return bad("model: Input should be a valid string");
  if (!o.countOnly) {
    if (p.max_tokens === undefined) return bad("max_tokens: Field required");
    if (!Number.isInteger(p.max_tokens)) return bad("max_tokens: Input should be a valid integer");
    if ((p.max_tokens as number) < 1) return bad("max_tokens: Input should be greater than or equal to 1");
  }
  if (p.messages === undefined) return bad("messages: Field required");
  if (!Array.isArray(p.messages)) return bad("messages: Input should be a valid list");
  for (const [i, m] of p.messages.entries()) {
    if (!isObj(m)) return bad(`messages.${i}: Input should be a valid dictionary`);
    // 2023-06-01 has no system role in `messages`; 2026-10-21 added one (the SDK's SystemMessageParam).
    if (m.role === "system" && o.version === V2023) {
      return bad(
        'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.',
      );
    }
    if (m.role !== "user" && m.role !== "assistant" && m.role !== "system") {
      return bad(`messages.${i}.role: Input should be 'user', 'assistant' or 'system'`);
    }
    if (typeof m.content !== "string" && !Array.isArray(m.content)) {
      return bad(`messages.${i}.content: Input should be a valid string or list`);
    }
  }
  if (!p.messages.some((m) => isObj(m) && m.role !== "system")) return bad("messages: at least one user or assistant message is required");
  if (p.system !== undefined && typeof p.system !== "string" && !Array.isArray(p.system)) {
    return bad("system: Input should be a valid string or list");
  }
  if (p.tools !== undefined) {
    if (!Array.isArray(p.tools)) return bad("tools: Input should be a valid list");
    for (const [i, t] of p.tools.entries()) {
      if (!isObj(t) || typeof t.name !== "string") return bad(`tools.${i}.name: Field required`);
    }
  }
  // 2026-10-21 removed the sampling knobs: sending one is a 400 even at its default value.
  if (o.version !== V2023) {
    for (const k of ["temperature", "top_p", "top_k"]) {
      if (p[k] !== undefined) return bad(`${k}: Extra inputs are not permitted in API version ${o.version}`);
    }
  } else if (p.temperature !== undefined && (typeof p.temperature !== "number" || p.temperature < 0 || p.temperature > 1)) {
    return bad("temperature: Input should be a number between 0 and 1");
  }
  const outputConfig = validateOutputConfig(p.output_config);
  if (outputConfig) return outputConfig;
  if (o.inBatch && p.stream === true) return bad("stream: streaming is not supported for requests in a Message Batch");
  if (o.models && !o.models.includes(p.model)) return { type: "not_found_error", message: `model: ${p.model}` };
  return null;
}

/** The `POST /v1/messages/batches` body: shape errors here are a 400 for the whole call (params are not). */
export function validateCreate(body: unknown, maxRequests: number): ErrorObject | null {
  const bad = (message: string): ErrorObject => ({ type: "invalid_request_error", message });
  if (!isObj(body)) return bad("Input should be a valid dictionary");
  const reqs = body.requests;
  if (reqs === undefined) return bad("requests: Field required");
  if (!Array.isArray(reqs)) return bad("requests: Input should be a valid list");
  if (reqs.length === 0) return bad("requests: List should have at least 1 item after validation, not 0");
  if (reqs.length > maxRequests) return bad(`requests: List should have at most ${maxRequests} items after validation, not ${reqs.length}`);
  const seen = new Set<string>();
  for (const [i, r] of reqs.entries()) {
    if (!isObj(r)) return bad(`requests.${i}: Input should be a valid dictionary`);
    if (typeof r.custom_id !== "string") return bad(`requests.${i}.custom_id: Field required`);
    if (!CUSTOM_ID.test(r.custom_id)) return bad(`requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    if (seen.has(r.custom_id))
      return bad(`requests.${i}.custom_id: Duplicate custom_id '${r.custom_id}'; each custom_id must be unique within the batch`);
    seen.add(r.custom_id);
    if (r.params === undefined) return bad(`requests.${i}.params: Field required`);
    if (!isObj(r.params)) return bad(`requests.${i}.params: Input should be a valid dictionary`);
  }
  return null;
}

/**
 * The deterministic assistant reply: `echo: <first 40 chars of the last user text>` (or, with
 * `output_config.format`, a JSON instance of its schema whose strings are that echo), output tokens
 * ceil(chars / 4), cut at max_tokens (stop_reason "max_tokens"). With `tools` and `[call:NAME]` naming one
 * of them in that text, a tool_use block follows and stop_reason is "tool_use". Call validateParams first.
 */
export function buildMessage(p: Json, serviceTier: "batch" | "standard", rand: () => number): Json {
  const last = lastUserText(p);
  const maxTokens = p.max_tokens as number;
  const tools = Array.isArray(p.tools) ? p.tools.filter(isObj) : [];
  const call = /\[call:([A-Za-z0-9_-]{1,128})\]/.exec(last);
  const tool = call ? tools.find((t) => t.name === call[1]) : undefined;
  // Structured output: the answer is an instance of the schema (its strings carry the echo).
  const schema = outputSchema(p);
  let text = schema ? JSON.stringify(sampleOf(schema, `echo: ${last.slice(0, 40)}`)) : `echo: ${last.slice(0, 40)}`;
  let output = Math.ceil(text.length / 4) + (tool ? Math.ceil(`${tool.name}{}`.length / 4) : 0);
  let stop: "end_turn" | "max_tokens" | "tool_use" = tool ? "tool_use" : "end_turn";
  const content: Json[] = [];
  if (output > maxTokens) {
    // Cut mid-answer: the text is truncated and a tool call it would have made is never reached.
    text = text.slice(0, maxTokens * 4);
    output = maxTokens;
    stop = "max_tokens";
  }
  content.push({ type: "text", text, citations: null });
  if (tool && stop === "tool_use") {
    content.push({ type: "tool_use", id: makeId("toolu_", rand), name: tool.name, input: {}, caller: { type: "direct" } });
  }
  return {
    id: makeId("msg_", rand),
    type: "message",
    role: "assistant",
    model: p.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: {
      input_tokens: countInputTokens(p),
      output_tokens: output,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      server_tool_use: null,
      service_tier: serviceTier,
      inference_geo: null,
      output_tokens_details: null,
      speed: null,
    },
  };
}
