import { z } from "zod";
import { nativeMessages, Refusal, systemText } from "./message-content.js";

/** Anthropic's own rule for a `custom_id`; ours (customer_item_id) is looser, so theirs is enforced here. */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** Anthropic's limit on one batch. */
export const MAX_REQUESTS = 100_000;

// The checks that need no translation; keys the native item can't carry are refused by toNativeItem.
const messageParams = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().min(1).max(1_000_000),
  messages: z.array(z.looseObject({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(z.unknown())]) })).min(1),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
});
export type AnthropicMessageParams = z.infer<typeof messageParams>;

/** One element of `requests` in Anthropic's create. */
export const anthropicRequestSchema = z.strictObject({
  custom_id: z.string().regex(CUSTOM_ID, "must match ^[a-zA-Z0-9_-]{1,64}$"),
  params: messageParams,
});
export type AnthropicRequest = z.infer<typeof anthropicRequestSchema>;

/**
 * Anthropic's model names onto our catalog's slugs. Our slugs are taken as they are (so any catalog
 * model can be named); a dated or versioned Claude name goes to the catalog's model of its family;
 * anything else is returned as it is (and refused by toNativeItem as unknown).
 */
export function catalogModel(name: string, known: ReadonlySet<string> | ReadonlyMap<string, unknown>): string {
  if (known.has(name)) return name;
  for (const family of ["haiku", "sonnet", "opus"]) {
    const slug = `claude-${family}-4`;
    if (name.startsWith("claude-") && name.includes(family) && known.has(slug)) return slug;
  }
  return name;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The params keys translated below; any other is refused with the reason, never dropped. */
const CARRIED = new Set([
  "model",
  "max_tokens",
  "messages",
  "system",
  "temperature",
  "top_p",
  "top_k",
  "stop_sequences",
  "metadata",
  "tools",
  "tool_choice",
  "output_config",
  "stream",
  "thinking",
]);

/** Anthropic's custom tools (`{name, description, input_schema, strict}`) as native function tools. */
function nativeTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw new Refusal(["tools"], "`tools` must be an array");
  return tools.map((t, i) => {
    const at = ["tools", i];
    if (!isObj(t)) throw new Refusal(at, "a tool must be an object");
    if (t.type !== undefined && t.type !== "custom")
      throw new Refusal([...at, "type"], `Anthropic server tool ${JSON.stringify(t.type)} is not supported; declare a custom tool`);
    for (const k of Object.keys(t)) {
      if (!["type", "name", "description", "input_schema", "strict"].includes(k))
        throw new Refusal([...at, k], `\`${k}\` on a tool is not supported by BatchRouter items; remove it`);
    }
    if (typeof t.name !== "string" || t.name === "") throw new Refusal([...at, "name"], "a tool needs `name`");
    if (!isObj(t.input_schema)) throw new Refusal([...at, "input_schema"], "a tool needs `input_schema` (a JSON schema object)");
    const fn: Json = { name: t.name, parameters: t.input_schema };
    if (typeof t.description === "string") fn.description = t.description;
    if (typeof t.strict === "boolean") fn.strict = t.strict;
    return { type: "function", function: fn };
  });
}

/** Anthropic's `tool_choice` in the native (OpenAI) form; disable_parallel_tool_use is parallel_tool_calls: false. */
function nativeToolChoice(choice: unknown): Json {
  if (!isObj(choice)) throw new Refusal(["tool_choice"], "`tool_choice` must be an object");
  for (const k of Object.keys(choice)) {
    if (!["type", "name", "disable_parallel_tool_use"].includes(k))
      throw new Refusal(["tool_choice", k], `\`${k}\` is not a tool_choice field`);
  }
  const out: Json = {};
  if (choice.type === "auto" || choice.type === "none") out.tool_choice = choice.type;
  else if (choice.type === "any") out.tool_choice = "required";
  else if (choice.type === "tool" && typeof choice.name === "string")
    out.tool_choice = { type: "function", function: { name: choice.name } };
  else throw new Refusal(["tool_choice", "type"], "tool_choice.type must be auto, any, tool (with `name`) or none");
  if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  return out;
}

/**
 * `output_config`: a JSON-schema `format` is the native item's `response_format` json_schema — strict,
 * since Anthropic's structured outputs always hold to the schema. `effort` has no native counterpart.
 */
function nativeResponseFormat(config: unknown): Json | undefined {
  if (!isObj(config)) throw new Refusal(["output_config"], "`output_config` must be an object");
  for (const k of Object.keys(config)) {
    if (k === "format") continue;
    if (k === "effort" && config.effort == null) continue;
    throw new Refusal(["output_config", k], `output_config.${k} is not supported by BatchRouter items; only \`format\` is`);
  }
  const format = config.format;
  if (format == null) return undefined;
  if (!isObj(format) || format.type !== "json_schema" || !isObj(format.schema))
    throw new Refusal(["output_config", "format"], 'output_config.format must be {type: "json_schema", schema: {…}}');
  return { type: "json_schema", json_schema: { name: "output", schema: format.schema, strict: true } };
}

/** Keys of params that are accepted only at their default, which changes nothing. */
function checkDefaults(params: Json): void {
  if (params.stream !== undefined && params.stream !== false) throw new Refusal(["stream"], "a batch request can't stream");
  if (params.thinking !== undefined && !(isObj(params.thinking) && params.thinking.type === "disabled"))
    throw new Refusal(["thinking"], "extended thinking is not supported by BatchRouter items; remove `thinking`");
  if (params.metadata !== undefined) {
    const m = params.metadata;
    if (!isObj(m) || Object.keys(m).some((k) => k !== "user_id") || (m.user_id != null && typeof m.user_id !== "string"))
      throw new Refusal(["metadata"], "`metadata` may hold `user_id` (a string) only");
  }
}

/**
 * One Anthropic request as a native item: chat-style input (the `system` prompt a leading system
 * message; text, image, tool_use and tool_result blocks as chat messages; custom tools as function
 * tools; `output_config.format` as response_format; `metadata.user_id` as `user`), `max_tokens` kept
 * and also the item's output cap so the price estimate uses it. Anything the native item can't carry
 * throws a Refusal whose path is relative to `params`.
 */
export function toNativeItem(req: AnthropicRequest, known: ReadonlySet<string> | ReadonlyMap<string, unknown>) {
  const params = req.params as AnthropicMessageParams & Json;
  for (const k of Object.keys(params)) {
    if (!CARRIED.has(k)) throw new Refusal([k], `\`${k}\` is not supported by BatchRouter items; remove it`);
  }
  checkDefaults(params);
  const model = catalogModel(params.model, known);
  if (!known.has(model)) throw new Refusal(["model"], `unknown model "${params.model}"; GET /v1/catalog/models lists the models`);
  const sys = systemText(params.system);
  const { messages, images } = nativeMessages(params.messages);
  const input: Json = {
    messages: [...(sys ? [{ role: "system", content: sys }] : []), ...messages],
    max_tokens: params.max_tokens,
  };
  if (params.temperature !== undefined) input.temperature = params.temperature;
  if (params.top_p !== undefined) input.top_p = params.top_p;
  if (params.top_k !== undefined) input.top_k = params.top_k;
  if (params.stop_sequences !== undefined) input.stop = params.stop_sequences;
  if (params.tools !== undefined) input.tools = nativeTools(params.tools);
  if (params.tool_choice !== undefined) Object.assign(input, nativeToolChoice(params.tool_choice));
  const format = params.output_config === undefined ? undefined : nativeResponseFormat(params.output_config);
  if (format) input.response_format = format;
  const user = (params.metadata as { user_id?: string | null } | undefined)?.user_id;
  if (typeof user === "string") input.user = user;
  return {
    customer_item_id: req.custom_id,
    operation: images ? ("vision" as const) : ("responses" as const),
    model,
    input,
    max_output_tokens: params.max_tokens,
  };
}
