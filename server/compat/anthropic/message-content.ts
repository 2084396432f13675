import { IMAGE_URL_RULE, isAllowedImageUrl } from "../../manifest/item-schema.js";

/**
 * Anthropic's message content blocks as the native item's chat messages (OpenAI's shape, which every
 * lane translates back for its provider). Only what the native shape carries is taken; anything else
 * is a Refusal naming where it is, so a request is never run with part of it silently dropped.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Something in a request the native item can't carry: `path` is relative to the request's `params`. */
export class Refusal extends Error {
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
  }
}

export interface NativeMessage extends Json {
  role: "system" | "user" | "assistant" | "tool";
}

/**
 * Refuses every key of `block` outside `allowed`, naming the first one. `cache_control` (prompt
 * caching) passes on every block: it asks the provider to cache a prefix, which changes price and
 * latency but never the answer, and existing Anthropic batch code sends it routinely. BatchRouter
 * items don't carry it, so it has no effect here (README, compatible surfaces).
 */
function onlyKeys(block: Json, allowed: readonly string[], path: (string | number)[]): void {
  for (const k of Object.keys(block)) {
    if (allowed.includes(k) || k === "cache_control") continue;
    throw new Refusal([...path, k], `\`${k}\` on a ${String(block.type)} block is not supported by BatchRouter items; remove it`);
  }
}

function textPart(block: Json, path: (string | number)[]): Json {
  onlyKeys(block, ["type", "text"], path);
  if (typeof block.text !== "string") throw new Refusal([...path, "text"], "a text block needs `text` (a string)");
  return { type: "text", text: block.text };
}

/** An image block as an image_url part: base64 data as a data: URL, a url source as given (https only). */
export function imagePart(block: Json, path: (string | number)[]): Json {
  onlyKeys(block, ["type", "source"], path);
  const src = block.source;
  const at = [...path, "source"];
  if (!isObj(src)) throw new Refusal(at, "an image block needs a `source`");
  let url: string;
  if (src.type === "base64") {
    if (typeof src.media_type !== "string" || typeof src.data !== "string")
      throw new Refusal(at, "a base64 image source needs `media_type` and `data` (strings)");
    url = `data:${src.media_type};base64,${src.data}`;
  } else if (src.type === "url") {
    if (typeof src.url !== "string") throw new Refusal([...at, "url"], "a url image source needs `url` (a string)");
    url = src.url;
  } else {
    throw new Refusal([...at, "type"], `image source type ${JSON.stringify(src.type)} is not supported; send base64 data or an https url`);
  }
  if (!isAllowedImageUrl(url)) throw new Refusal(at, IMAGE_URL_RULE);
  return { type: "image_url", image_url: { url } };
}

/** A tool_result block as a `tool` message; its content may be text only (what a tool message carries). */
function toolMessage(block: Json, path: (string | number)[]): NativeMessage {
  onlyKeys(block, ["type", "tool_use_id", "content", "is_error"], path);
  if (typeof block.tool_use_id !== "string" || block.tool_use_id === "")
    throw new Refusal([...path, "tool_use_id"], "a tool_result block needs `tool_use_id`");
  if (block.is_error === true)
    throw new Refusal([...path, "is_error"], "`is_error: true` can't be carried by a BatchRouter tool message; say so in the content");
  const content = block.content ?? "";
  let carried: string | Json[];
  if (typeof content === "string") carried = content;
  else if (Array.isArray(content)) {
    carried = content.map((p, i) => {
      const at = [...path, "content", i];
      if (!isObj(p) || p.type !== "text") throw new Refusal(at, "a tool_result's content may hold text blocks only here");
      return textPart(p, at);
    });
  } else throw new Refusal([...path, "content"], "a tool_result's content must be a string or text blocks");
  return { role: "tool", tool_call_id: block.tool_use_id, content: carried };
}

/** A tool_use block as an OpenAI-style tool call (arguments are a JSON string there). */
function toolCall(block: Json, path: (string | number)[]): Json {
  onlyKeys(block, ["type", "id", "name", "input"], path);
  if (typeof block.id !== "string" || typeof block.name !== "string")
    throw new Refusal(path, "a tool_use block needs `id` and `name` (strings)");
  if (!isObj(block.input)) throw new Refusal([...path, "input"], "a tool_use block's `input` must be an object");
  return { id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input) } };
}

const unsupported = (type: unknown, path: (string | number)[], role: string) =>
  new Refusal([...path, "type"], `a ${JSON.stringify(type)} block in a ${role} message is not supported by BatchRouter items`);

/** One user turn: its tool results first (as tool messages, where chat APIs want them), then the rest. */
function userMessages(content: Json[], path: (string | number)[]): { messages: NativeMessage[]; images: boolean } {
  const tools: NativeMessage[] = [];
  const parts: Json[] = [];
  let images = false;
  content.forEach((b, i) => {
    const at = [...path, i];
    if (b.type === "text") parts.push(textPart(b, at));
    else if (b.type === "image") {
      parts.push(imagePart(b, at));
      images = true;
    } else if (b.type === "tool_result") tools.push(toolMessage(b, at));
    else throw unsupported(b.type, at, "user");
  });
  return { messages: [...tools, ...(parts.length > 0 || tools.length === 0 ? [{ role: "user" as const, content: parts }] : [])], images };
}

/** One assistant turn: text as its content, tool_use blocks as its tool_calls. */
function assistantMessage(content: Json[], path: (string | number)[]): NativeMessage {
  const parts: Json[] = [];
  const calls: Json[] = [];
  content.forEach((b, i) => {
    const at = [...path, i];
    if (b.type === "text") parts.push(textPart(b, at));
    else if (b.type === "tool_use") calls.push(toolCall(b, at));
    else throw unsupported(b.type, at, "assistant");
  });
  return { role: "assistant", content: parts.length > 0 ? parts : null, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
}

/** Anthropic's `messages` as native chat messages, and whether any carries an image (a vision item). */
export function nativeMessages(messages: readonly { role: string; content: unknown }[]): { messages: NativeMessage[]; images: boolean } {
  const out: NativeMessage[] = [];
  let images = false;
  messages.forEach((m, i) => {
    const path = ["messages", i];
    onlyKeys(m as Json, ["role", "content"], path);
    const role = m.role === "assistant" ? "assistant" : "user";
    if (typeof m.content === "string") {
      out.push({ role, content: m.content });
      return;
    }
    const blocks = Array.isArray(m.content) ? m.content : [];
    blocks.forEach((b, j) => {
      if (!isObj(b)) throw new Refusal([...path, "content", j], "a content block must be an object");
    });
    if (role === "assistant") out.push(assistantMessage(blocks as Json[], [...path, "content"]));
    else {
      const user = userMessages(blocks as Json[], [...path, "content"]);
      out.push(...user.messages);
      images ||= user.images;
    }
  });
  return { messages: out, images };
}

/** The system prompt as one text: blocks joined by blank lines, as the native item's system message holds it. */
export function systemText(system: unknown): string | undefined {
  if (system === undefined) return undefined;
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) throw new Refusal(["system"], "`system` must be a string or text blocks");
  return system
    .map((b, i) => {
      if (!isObj(b) || b.type !== "text") throw new Refusal(["system", i], "`system` may hold text blocks only");
      return textPart(b, ["system", i]).text as string;
    })
    .join("\n\n");
}
