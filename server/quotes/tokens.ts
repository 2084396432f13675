import type { Model, Operation } from "../catalog/types.js";
import type { ManifestItem } from "../manifest/item-schema.js";

type Counter = (text: string) => number;

/**
 * Token counters per model family. OpenAI families use their exact BPE (gpt-tokenizer); Llama 3 and
 * Mistral use their published tokenizers. Claude, Gemini and Gemma have no public tokenizer for
 * their current models, so they are counted with o200k, which lands within a few percent on
 * English text — the quote locks the price either way, and settlement uses the provider's count.
 * Each is loaded on first use: the two OpenAI tables alone are ~70 MB of memory, which a worker
 * process (it never quotes) or an API that never sees a family should not carry.
 */
const LOADERS: Record<string, () => Promise<Counter>> = {
  o200k: async () => (await import("gpt-tokenizer/encoding/o200k_base")).countTokens,
  cl100k: async () => (await import("gpt-tokenizer/encoding/cl100k_base")).countTokens,
  llama: async () => {
    const m = await import("llama3-tokenizer-js");
    return (t) => m.default.encode(t, { bos: false, eos: false }).length;
  },
  mistral: async () => {
    const m = await import("mistral-tokenizer-js");
    return (t) => m.default.encode(t, false, false).length;
  },
};
const PROXY_FAMILY: Record<string, string> = { claude: "o200k", gemini: "o200k", gemma: "o200k" };

/**
 * How many characters each family's counter reads exactly (~30 ms here); past it, we count an even
 * sample of that size, which pins the tokens-per-character ratio to well under 1 %.
 */
const EXACT_BUDGET_CHARS: Record<string, number> = { o200k: 500_000, cl100k: 500_000, llama: 100_000, mistral: 100_000 };

const counters = new Map<string, Promise<Counter>>();
function counterFor(family: string): { family: string; counter: Promise<Counter> } {
  const f = LOADERS[family] ? family : (PROXY_FAMILY[family] ?? "o200k");
  let c = counters.get(f);
  if (!c) {
    // A failed load is tried again at the next quote, not cached.
    c = LOADERS[f]!().catch((err: unknown) => {
      counters.delete(f);
      throw err;
    });
    counters.set(f, c);
  }
  return { family: f, counter: c };
}

// OpenAI's chat accounting: ~3 tokens of framing per message plus 3 to prime the reply.
const PER_MESSAGE = 3;
const PER_REQUEST = 3;
// A high-detail 1024×1024 image in OpenAI's tile formula (85 + 4 × 170).
const PER_IMAGE = 765;

interface Extracted {
  text: string;
  overhead: number;
}

function partsText(content: unknown, acc: { text: string[]; images: number }) {
  if (typeof content === "string") acc.text.push(content);
  else if (Array.isArray(content)) {
    for (const p of content) {
      if (typeof p === "string") acc.text.push(p);
      else if (p && typeof p === "object") {
        const part = p as Record<string, unknown>;
        if (typeof part.text === "string") acc.text.push(part.text);
        if (part.type === "image_url" || part.type === "input_image") acc.images++;
        if (part.content !== undefined) partsText(part.content, acc);
      }
    }
  }
}

/** The text a provider will tokenize for an item, plus fixed overheads (messages, images). */
export function extractText(item: ManifestItem, operation: Operation): Extracted {
  const input = item.input as Record<string, unknown>;
  const acc = { text: [] as string[], images: 0 };
  if (operation === "embeddings") {
    partsText(input.input, acc);
    return { text: acc.text.join("\n"), overhead: 0 };
  }
  let messages = 0;
  if (typeof input.instructions === "string") acc.text.push(input.instructions), messages++;
  for (const list of [input.messages, input.input]) {
    if (typeof list === "string") acc.text.push(list), messages++;
    else if (Array.isArray(list)) {
      for (const m of list) {
        messages++;
        if (m && typeof m === "object" && "content" in m) partsText((m as { content: unknown }).content, acc);
        else partsText([m], acc);
      }
    }
  }
  const tools = item.tools ?? input.tools;
  if (tools) acc.text.push(JSON.stringify(tools));
  return { text: acc.text.join("\n"), overhead: PER_REQUEST + messages * PER_MESSAGE + acc.images * PER_IMAGE };
}

/** Output tokens to price: the item's own cap, else the model's typical reply, never above its max. */
export function estimateOutputTokens(item: ManifestItem, operation: Operation, model: Model | undefined): number {
  if (operation === "embeddings") return 0;
  const input = item.input as Record<string, unknown>;
  const asked = [item.max_output_tokens, input.max_output_tokens, input.max_completion_tokens, input.max_tokens].find(
    (v): v is number => typeof v === "number" && v > 0,
  );
  const typical = model?.typical_output_tokens ?? 500;
  return Math.min(asked ?? typical, model?.max_output_tokens ?? Number.MAX_SAFE_INTEGER);
}

export interface TokenJob {
  item: ManifestItem;
  operation: Operation;
  family: string;
}

/**
 * Input-token estimates for many items. Each family's items are counted exactly while they fit
 * the family's budget; a larger manifest is counted exactly on an even sample and the rest is
 * scaled by the sample's own tokens-per-character, so a 50,000-item quote stays fast.
 * `budgetShare` (0–1] scales the budgets for one chunk of a larger manifest.
 */
export async function estimateInputTokens(jobs: TokenJob[], budgetShare = 1): Promise<{ tokens: number[]; sampled: boolean }> {
  const tokens = new Array<number>(jobs.length).fill(0);
  const texts = jobs.map((j) => extractText(j.item, j.operation));
  const byFamily = new Map<string, number[]>();
  for (let i = 0; i < jobs.length; i++) {
    const f = counterFor(jobs[i]!.family).family;
    let list = byFamily.get(f);
    if (!list) byFamily.set(f, (list = []));
    list.push(i);
  }
  let sampled = false;
  for (const [family, indexes] of byFamily) {
    const count = await counterFor(family).counter;
    // A chunk of a stored manifest gets its share of the budget, so a million items streamed in
    // chunks cost what one 50,000-item quote does (and sample as evenly).
    const budget = Math.ceil((EXACT_BUDGET_CHARS[family] ?? 300_000) * budgetShare);
    const totalChars = indexes.reduce((n, i) => n + texts[i]!.text.length, 0);
    if (totalChars <= budget) {
      for (const i of indexes) tokens[i] = count(texts[i]!.text) + texts[i]!.overhead;
      continue;
    }
    sampled = true;
    const step = Math.ceil(totalChars / budget);
    let sampleChars = 0;
    let sampleTokens = 0;
    for (let k = 0; k < indexes.length; k += step) {
      const i = indexes[k]!;
      const n = count(texts[i]!.text);
      tokens[i] = n + texts[i]!.overhead;
      sampleChars += texts[i]!.text.length;
      sampleTokens += n;
    }
    const perChar = sampleChars > 0 ? sampleTokens / sampleChars : 0.25;
    for (let k = 0; k < indexes.length; k++) {
      if (k % step === 0) continue;
      const i = indexes[k]!;
      tokens[i] = Math.ceil(texts[i]!.text.length * perChar) + texts[i]!.overhead;
    }
  }
  return { tokens, sampled };
}
