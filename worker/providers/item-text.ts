import type { ManifestItem } from "../../server/manifest/item-schema.js";
import type { Operation } from "../../server/catalog/types.js";
import { BoundedCache } from "./bounded-cache.js";
import { o200k } from "./o200k.js";

/**
 * Reading an item's input the way a provider would: its text, its last user turn, its images and
 * function tools. The input was validated at the API (item-schema.ts) but is typed loosely, so every
 * reader here tolerates shapes it doesn't know instead of throwing in the middle of a batch.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const TEXT_PART_TYPES = new Set(["text", "input_text", "output_text"]);
const IMAGE_PART_TYPES = new Set(["image_url", "input_image"]);

// A customer's text may contain "<|endoftext|>"; a provider counts it as plain text, and so do we
// (the tokenizer's default would throw on it).
const PLAIN = { disallowedSpecial: new Set<string>() };

/**
 * Counts of texts seen lately, keyed by the text (cost: its length, ~8 MB of keys at most). Items of
 * a batch share their system prompt and template; only texts up to CACHED_CHARS are kept, since a
 * long one costs as much to hash as a short one costs to count.
 */
const counted = new BoundedCache<string, number>(4_000_000);
const CACHED_CHARS = 4096;

/** o200k_base token count of a text, special-token markers counted as ordinary text. */
export function countTokens(text: string): number {
  if (!text) return 0;
  if (text.length > CACHED_CHARS) return o200k().countTokens(text, PLAIN);
  return counted.get(text, text.length, () => o200k().countTokens(text, PLAIN));
}

interface Turn {
  role: string;
  texts: string[];
  images: number;
}

function contentOf(content: unknown): { texts: string[]; images: number } {
  if (typeof content === "string") return { texts: content ? [content] : [], images: 0 };
  const texts: string[] = [];
  let images = 0;
  for (const part of Array.isArray(content) ? content : []) {
    if (!isObj(part)) continue;
    if (TEXT_PART_TYPES.has(String(part.type)) && typeof part.text === "string") texts.push(part.text);
    else if (IMAGE_PART_TYPES.has(String(part.type))) images += 1;
  }
  return { texts, images };
}

/** The conversation of a responses/vision input, in order: instructions, messages, Responses input. */
function turnsOf(input: Json): Turn[] {
  const turns: Turn[] = [];
  if (typeof input.instructions === "string" && input.instructions) turns.push({ role: "system", texts: [input.instructions], images: 0 });
  for (const m of Array.isArray(input.messages) ? input.messages : []) {
    if (isObj(m)) turns.push({ role: String(m.role ?? "user"), ...contentOf(m.content) });
  }
  if (typeof input.input === "string") turns.push({ role: "user", texts: [input.input], images: 0 });
  else if (Array.isArray(input.input)) {
    // A Responses input array mixes messages with bare content parts (which belong to the user).
    const bare: unknown[] = [];
    for (const entry of input.input) {
      if (isObj(entry) && "role" in entry) turns.push({ role: String(entry.role), ...contentOf(entry.content) });
      else bare.push(entry);
    }
    if (bare.length > 0) turns.push({ role: "user", ...contentOf(bare) });
  }
  return turns;
}

/** The strings of an embeddings input, in order. */
export function embeddingInputs(item: ManifestItem): string[] {
  const input = item.input.input;
  if (typeof input === "string") return [input];
  return Array.isArray(input) ? input.filter((s): s is string => typeof s === "string") : [];
}

/** Every text of the input a provider would read (and bill), in order. Images are not text. */
export function inputTexts(item: ManifestItem, operation: Operation): string[] {
  if (operation === "embeddings") return embeddingInputs(item);
  return turnsOf(item.input).flatMap((t) => t.texts);
}

/** Input tokens as the simulator bills them: the sum of each text's o200k_base count. */
export function inputTokens(item: ManifestItem, operation: Operation): number {
  return inputTexts(item, operation).reduce((sum, t) => sum + countTokens(t), 0);
}

/** The text of the last user turn (falling back to the last text of any turn). */
export function lastUserText(item: ManifestItem): string {
  const turns = turnsOf(item.input).filter((t) => t.texts.length > 0);
  const user = [...turns].reverse().find((t) => t.role === "user") ?? turns.at(-1);
  return user ? user.texts.join("\n") : "";
}

/** Texts of the instructions and the system/developer turns, where output formats are described. */
export function instructionTexts(item: ManifestItem): string[] {
  return turnsOf(item.input)
    .filter((t) => t.role === "system" || t.role === "developer")
    .flatMap((t) => t.texts);
}

/** How many image parts the input carries. */
export function imageCount(item: ManifestItem): number {
  return turnsOf(item.input).reduce((n, t) => n + t.images, 0);
}

export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: Json;
}

/** Function tools from `item.tools` and `input.tools`, in either the chat or the Responses shape. */
export function functionTools(item: ManifestItem): FunctionTool[] {
  const all = [...(item.tools ?? []), ...(Array.isArray(item.input.tools) ? item.input.tools : [])];
  const out: FunctionTool[] = [];
  for (const t of all) {
    if (!isObj(t) || t.type !== "function") continue;
    const fn = isObj(t.function) ? t.function : t; // chat nests under `function`, Responses doesn't
    if (typeof fn.name !== "string" || !fn.name) continue;
    out.push({
      name: fn.name,
      ...(typeof fn.description === "string" ? { description: fn.description } : {}),
      ...(isObj(fn.parameters) ? { parameters: fn.parameters } : {}),
    });
  }
  return out;
}

/** The item's tool_choice: "auto" (default), "none", "required", or the one function it forces. */
export function toolChoice(item: ManifestItem): "auto" | "none" | "required" | { name: string } {
  const c = item.input.tool_choice;
  if (c === "none" || c === "required") return c;
  if (isObj(c)) {
    const name = isObj(c.function) ? c.function.name : c.name;
    if (typeof name === "string") return { name };
  }
  return "auto";
}

/** The output cap the item asks for (item field first, then the body's), within the lane's own cap. */
export function maxOutputTokens(item: ManifestItem, laneMax?: number): number | undefined {
  const asked = [item.max_output_tokens, item.input.max_output_tokens, item.input.max_completion_tokens, item.input.max_tokens].find(
    (v): v is number => typeof v === "number" && v > 0,
  );
  const cap = laneMax && laneMax > 0 ? laneMax : undefined;
  if (asked === undefined) return cap;
  return cap === undefined ? asked : Math.min(asked, cap);
}

/** The requested response_format type, if any ("json_object", "json_schema", "text"). */
export function responseFormat(item: ManifestItem): { type: string; schema?: Json } | undefined {
  const rf = isObj(item.input.response_format)
    ? item.input.response_format
    : isObj(item.input.text) && isObj(item.input.text.format)
      ? item.input.text.format // Responses API spelling
      : undefined;
  if (!rf || typeof rf.type !== "string") return undefined;
  const schema = isObj(rf.json_schema) && isObj(rf.json_schema.schema) ? rf.json_schema.schema : isObj(rf.schema) ? rf.schema : undefined;
  return schema ? { type: rf.type, schema } : { type: rf.type };
}
