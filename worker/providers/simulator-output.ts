import type { Lane } from "../../server/catalog/types.js";
import { BoundedCache } from "./bounded-cache.js";
import { hash01, hashHex, seededRandom } from "./hash.js";
import { o200k } from "./o200k.js";
import {
  countTokens,
  embeddingInputs,
  functionTools,
  imageCount,
  inputTexts,
  inputTokens,
  instructionTexts,
  lastUserText,
  maxOutputTokens,
  responseFormat,
  toolChoice,
  type FunctionTool,
} from "./item-text.js";
import { embeddingsOutput, textOutput } from "./normalized-output.js";
import { jsonFromPromptTemplate, sampleFromSchema, type JsonContext } from "./simulator-json.js";
import type { EmbeddingsOutput, FinishReason, TextOutput, ToolCall, Usage, WorkUnitItem } from "./types.js";

/**
 * What the simulator answers for a successful item. Everything derives from the item's content
 * (plus the job seed and attempt for ids only), so a re-collect after a crash returns byte-identical
 * outputs and the same text gets the same answer in every batch.
 */

const PLAIN = { disallowedSpecial: new Set<string>() };
const TRIGGER_MARKER = /\[simulate:[a-z_]+\]/g;
const ECHO_WORDS = 20;

const CLOSINGS = [
  "This is a simulated answer; no model was called.",
  "Simulated response: a real provider would answer here.",
  "Placeholder output from the BatchRouter simulator.",
  "Simulated completion generated deterministically from the input.",
];

/** The first words of the request, as the "summary" a simulated model echoes back. */
function echoOf(prompt: string): string {
  const words = prompt.replace(TRIGGER_MARKER, " ").split(/\s+/).filter(Boolean);
  return words.slice(0, ECHO_WORDS).join(" ") + (words.length > ECHO_WORDS ? " …" : "");
}

/**
 * Cuts a text to at most `max` o200k tokens (no limit: undefined), with the tokens of what is kept.
 * Counting is the common case and costs one pass; only a cut encodes, and re-counts to guard
 * against merges across the cut.
 */
function truncateToTokens(text: string, max: number | undefined): { text: string; tokens: number; truncated: boolean } {
  const n = countTokens(text);
  if (max === undefined || n <= max) return { text, tokens: n, truncated: false };
  const { encode, decode } = o200k();
  const tokens = encode(text, PLAIN);
  let keep = max;
  let cut = decode(tokens.slice(0, keep));
  let counted = countTokens(cut);
  while (keep > 0 && counted > max) counted = countTokens((cut = decode(tokens.slice(0, --keep))));
  return { text: cut, tokens: counted, truncated: true };
}

function mentions(prompt: string, name: string): boolean {
  const p = prompt.toLowerCase();
  const n = name.toLowerCase();
  return p.includes(n) || p.includes(n.replace(/_/g, " "));
}

/**
 * The function the simulated model calls, if any: the forced one (tool_choice naming a function), a
 * tool named in the last user message, or — with tool_choice "required" — the first tool. Merely
 * having tools doesn't make a call, as with a real model asked an unrelated question.
 */
function toolToCall(wi: WorkUnitItem, prompt: string): FunctionTool | undefined {
  const tools = functionTools(wi.item);
  const choice = toolChoice(wi.item);
  if (tools.length === 0 || choice === "none") return undefined;
  if (typeof choice === "object") return tools.find((t) => t.name === choice.name);
  return tools.find((t) => mentions(prompt, t.name)) ?? (choice === "required" ? tools[0] : undefined);
}

function contextFor(wi: WorkUnitItem, echo: string): JsonContext {
  return { echo, pick: (salt) => hash01("json", wi.model, echo, salt) };
}

/** A simulated responses/vision answer and its usage (input and output counted with o200k_base). */
export function simulateText(wi: WorkUnitItem, lane: Lane, ids: { seed: string }): { output: TextOutput; usage: Usage } {
  const prompt = lastUserText(wi.item);
  const echo = echoOf(prompt);
  const input_tokens = inputTokens(wi.item, wi.operation);
  const responseId = `simresp_${hashHex("resp", ids.seed, wi.item_id, wi.attempt).slice(0, 24)}`;

  const tool = toolToCall(wi, prompt);
  if (tool) {
    const args = JSON.stringify(tool.parameters ? sampleFromSchema({ type: "object", ...tool.parameters }, contextFor(wi, echo)) : {});
    const call: ToolCall = {
      id: `call_${hashHex("call", ids.seed, wi.item_id, wi.attempt).slice(0, 24)}`,
      type: "function",
      function: { name: tool.name, arguments: args },
    };
    return {
      output: textOutput({ text: "", tool_calls: [call], finish_reason: "tool_calls", model: wi.model, provider_response_id: responseId }),
      usage: { input_tokens, output_tokens: countTokens(tool.name) + countTokens(args) },
    };
  }

  const format = responseFormat(wi.item);
  let full: string;
  if (format?.type === "json_schema" && format.schema) full = JSON.stringify(sampleFromSchema(format.schema, contextFor(wi, echo)));
  else if (format?.type === "json_object") full = JSON.stringify(jsonFromPromptTemplate(templateSource(wi), contextFor(wi, echo)));
  else {
    const images = imageCount(wi.item);
    const closing = CLOSINGS[Math.floor(hash01("closing", wi.model, prompt) * CLOSINGS.length)];
    full =
      `[simulated ${wi.model}] ` +
      (images > 0 ? `Looked at ${images} image${images === 1 ? "" : "s"}. ` : "") +
      (echo ? `Summary of the request: "${echo}". ` : "") +
      closing;
  }
  const { text, tokens, truncated } = truncateToTokens(full, maxOutputTokens(wi.item, lane.max_output_tokens));
  const finish: FinishReason = truncated ? "length" : "stop";
  return {
    output: textOutput({ text, finish_reason: finish, model: wi.model, provider_response_id: responseId }),
    usage: { input_tokens, output_tokens: tokens },
  };
}

// The template of a json_object prompt usually sits in the instructions or the system message; only
// without one there is the user's own text searched (it may quote unrelated JSON).
function templateSource(wi: WorkUnitItem): string {
  const system = instructionTexts(wi.item).join("\n");
  return /\{\s*"/.test(system) ? system : inputTexts(wi.item, wi.operation).join("\n");
}

/** The native width of an embedding model: 3072 for *-large, 1536 otherwise (OpenAI's -small, ada). */
export function defaultEmbeddingDimensions(model: string): number {
  return /-large\b/.test(model) ? 3072 : 1536;
}

/**
 * Each word's pseudo-random vector (native width), kept for the words seen lately: a batch's texts
 * share most of their words, and drawing 1,536–3,072 numbers per word per text was most of an
 * embedding's cost. Budget in bytes (~16 MB: ~1,300 words of a 1,536-wide model).
 */
const wordVectors = new BoundedCache<string, Float64Array>(16 * 1024 * 1024);

function wordVector(model: string, native: number, word: string): Float64Array {
  const key = `${model}\u0000${native}\u0000${word}`;
  // The key counts too: a text without words is its own key, however long.
  return wordVectors.get(key, native * 8 + key.length * 2, () => {
    const rnd = seededRandom(hashHex("embed", model, word));
    const v = new Float64Array(native);
    for (let i = 0; i < native; i++) v[i] = rnd() * 2 - 1;
    return v;
  });
}

/** 1e-8 steps: as fine as float32 is near the components' size (~0.03), and half the JSON of full doubles. */
const STEP = 1e8;

/**
 * A unit vector for a text: the sum of a pseudo-random vector per distinct word (feature hashing),
 * so texts sharing words point in similar directions — enough for similarity demos to behave. As with
 * OpenAI's `dimensions`, a shorter vector is the renormalised prefix of the native one. Components
 * are rounded to 1e-8, so they print in ~11 characters rather than a double's ~20.
 */
export function embedText(model: string, text: string, dimensions: number): number[] {
  const native = Math.max(defaultEmbeddingDimensions(model), dimensions);
  const words = [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])].slice(0, 512);
  const keys = words.length > 0 ? words : [text];
  const acc = new Float64Array(dimensions);
  for (const w of keys) {
    const v = wordVector(model, native, w);
    for (let i = 0; i < dimensions; i++) acc[i] = (acc[i] as number) + (v[i] as number);
  }
  let sum = 0;
  for (let i = 0; i < dimensions; i++) sum += (acc[i] as number) * (acc[i] as number);
  const norm = Math.sqrt(sum) || 1;
  const out = new Array<number>(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = Math.round(((acc[i] as number) / norm) * STEP) / STEP;
  return out;
}

/** Simulated embeddings, one vector per input string (the simulator rejects bad widths before this). */
export function simulateEmbeddings(wi: WorkUnitItem): { output: EmbeddingsOutput; usage: Usage } {
  const inputs = embeddingInputs(wi.item);
  const asked = wi.item.input.dimensions;
  const dimensions = typeof asked === "number" && Number.isInteger(asked) && asked > 0 ? asked : defaultEmbeddingDimensions(wi.model);
  return {
    output: embeddingsOutput(inputs.map((t) => embedText(wi.model, t, dimensions))),
    usage: { input_tokens: inputs.reduce((s, t) => s + countTokens(t), 0), output_tokens: 0 },
  };
}
