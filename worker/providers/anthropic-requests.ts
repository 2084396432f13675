import type { Lane } from "../../server/catalog/types.js";
import { functionTools, maxOutputTokens, responseFormat, toolChoice } from "./item-text.js";
import type { WorkUnitItem } from "./types.js";

/**
 * One item as an Anthropic Messages request (`params` of a Message Batches request, or the body of
 * POST /v1/messages): chat- or Responses-style input translated — system and developer messages
 * lifted into `system`, image parts as image blocks, tool calls and results as tool_use and
 * tool_result blocks (chat `tool_calls`/`tool` turns, and Responses `function_call` /
 * `function_call_output` entries), function tools with their JSON schema — and `max_tokens`, which
 * Anthropic requires, defaulted when the item has none. Values Anthropic refuses but our API accepts
 * are brought into its range rather than failing the item on this lane (see the sampling knobs).
 */
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The cap when an item asks for none: Anthropic needs one; most answers fit well within it. */
export const DEFAULT_MAX_TOKENS = 4096;

export function anthropicParams(item: WorkUnitItem, lane: Pick<Lane, "served_as" | "max_output_tokens">): Json {
  const input = item.item.input;
  const system: string[] = [];
  if (typeof input.instructions === "string" && input.instructions) system.push(input.instructions);
  if (typeof input.system === "string" && input.system) system.push(input.system);
  const source = Array.isArray(input.messages)
    ? input.messages
    : typeof input.input === "string"
      ? [{ role: "user", content: input.input }]
      : Array.isArray(input.input)
        ? input.input
        : [];
  const messages: Json[] = [];
  for (const m of source) {
    if (!isObj(m)) continue;
    // Responses-style tool traffic carries no role: the model's call, then our answer to it.
    if (m.type === "function_call") {
      push(messages, "assistant", [
        { type: "tool_use", id: String(m.call_id ?? m.id ?? ""), name: String(m.name ?? ""), input: parseArgs(m.arguments) },
      ]);
      continue;
    }
    if (m.type === "function_call_output") {
      push(messages, "user", [
        { type: "tool_result", tool_use_id: String(m.call_id ?? ""), content: typeof m.output === "string" ? m.output : textOf(m.output) },
      ]);
      continue;
    }
    // A bare content part (Responses style) is the user speaking.
    const role = typeof m.role === "string" ? m.role : "user";
    if (role === "system" || role === "developer") {
      system.push(textOf(m.content));
      continue;
    }
    if (role === "tool") {
      push(messages, "user", [{ type: "tool_result", tool_use_id: String(m.tool_call_id ?? ""), content: textOf(m.content) }]);
      continue;
    }
    const blocks = blocksOf(m.content ?? (m.role === undefined ? [m] : ""));
    if (role === "assistant" && Array.isArray(m.tool_calls)) {
      for (const c of m.tool_calls.filter(isObj)) {
        const fn = isObj(c.function) ? c.function : {};
        blocks.push({ type: "tool_use", id: String(c.id ?? ""), name: String(fn.name ?? ""), input: parseArgs(fn.arguments) });
      }
    }
    push(messages, role === "assistant" ? "assistant" : "user", blocks);
  }
  const params: Json = {
    model: lane.served_as,
    max_tokens: maxTokens(item, lane.max_output_tokens),
    messages,
  };
  if (system.length) params.system = system.join("\n\n");
  // Our API takes OpenAI's temperature range (0..2); Anthropic's is 0..1, so the top of it is clamped.
  if (typeof input.temperature === "number") params.temperature = Math.min(1, Math.max(0, input.temperature));
  // Current Claude models refuse temperature and top_p together ("use only one"): temperature wins.
  else if (typeof input.top_p === "number") params.top_p = input.top_p;
  if (typeof input.top_k === "number") params.top_k = input.top_k;
  // Anthropic refuses whitespace-only stop sequences; OpenAI ignores them.
  const stops = (typeof input.stop === "string" ? [input.stop] : Array.isArray(input.stop) ? input.stop : []).filter(
    (s): s is string => typeof s === "string" && /\S/.test(s),
  );
  if (stops.length) params.stop_sequences = stops;
  const tools = functionTools(item.item);
  if (tools.length) {
    params.tools = tools.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      input_schema: t.parameters ?? { type: "object" },
    }));
    const choice = toolChoice(item.item);
    params.tool_choice =
      typeof choice === "object" ? { type: "tool", name: choice.name } : { type: choice === "required" ? "any" : choice };
    if (input.parallel_tool_calls === false && choice !== "none") (params.tool_choice as Json).disable_parallel_tool_use = true;
  }
  applyResponseFormat(params, item);
  return params;
}

/** Said in `system` for json_object: the answer must parse, as OpenAI's JSON mode guarantees. */
export const JSON_OBJECT_INSTRUCTION = "Respond with a single JSON object and nothing else: no prose, no code fences.";

/**
 * The item's response_format (chat spelling, or the Responses API's `text.format`) in Anthropic's
 * terms. A JSON schema is Anthropic's structured output, `output_config.format` — the model is held to
 * the schema, as OpenAI's strict json_schema holds it. `json_object` (any JSON object) has no
 * counterpart: structured outputs need a schema whose objects list their properties, so an open
 * `{type: "object"}` would allow only `{}`. It becomes an instruction instead; the caller's prompt
 * already asks for JSON (OpenAI refuses json_object without "JSON" in the messages).
 */
function applyResponseFormat(params: Json, item: WorkUnitItem): void {
  const format = responseFormat(item.item);
  if (format?.type === "json_schema" && format.schema) {
    params.output_config = { format: { type: "json_schema", schema: format.schema } };
  } else if (format?.type === "json_object") {
    params.system = typeof params.system === "string" ? `${params.system}\n\n${JSON_OBJECT_INSTRUCTION}` : JSON_OBJECT_INSTRUCTION;
  }
}

/**
 * The item's own cap (within the lane's), else DEFAULT_MAX_TOKENS (within the lane's). Not the lane's
 * cap itself: maxOutputTokens() falls back to it, which would ask every answer for the model's maximum;
 * and a lane without a cap (0) must still send a positive max_tokens.
 */
function maxTokens(item: WorkUnitItem, laneMax: number): number {
  const cap = laneMax > 0 ? laneMax : Number.POSITIVE_INFINITY;
  return Math.min(maxOutputTokens(item.item) ?? DEFAULT_MAX_TOKENS, cap);
}

/** Consecutive turns of one role merge: Anthropic wants user and assistant to alternate. */
function push(messages: Json[], role: "user" | "assistant", blocks: Json[]) {
  // Anthropic refuses a turn with no content; an empty one says nothing anyway.
  if (blocks.length === 0) return;
  const last = messages[messages.length - 1];
  if (last && last.role === role) (last.content as Json[]).push(...blocks);
  else messages.push({ role, content: blocks });
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter(isObj)
    .map((p) => (typeof p.text === "string" ? p.text : ""))
    .join("");
}

function blocksOf(content: unknown): Json[] {
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  if (!Array.isArray(content)) return [];
  const out: Json[] = [];
  for (const p of content.filter(isObj)) {
    if (typeof p.text === "string") out.push({ type: "text", text: p.text });
    else if (p.type === "image_url" || p.type === "input_image") {
      const url = isObj(p.image_url) ? p.image_url.url : p.image_url;
      if (typeof url === "string") out.push({ type: "image", source: imageSource(url) });
    }
  }
  return out;
}

/** https URLs by reference; data: URIs inline as base64 (the only two forms items may carry). */
function imageSource(url: string): Json {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { type: "base64", media_type: m[1], data: m[2] } : { type: "url", url };
}

function parseArgs(args: unknown): unknown {
  if (typeof args !== "string") return isObj(args) ? args : {};
  try {
    return JSON.parse(args);
  } catch {
    return {};
  }
}
