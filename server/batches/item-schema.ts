import { z } from "zod";
import { hostedToolSchema, operationSchema, type Operation } from "../catalog/types.js";

/**
 * One manifest item, whatever provider runs it (spec/api.md §3b). Used by quotes, batch creation,
 * uploaded manifests and the MCP tools, so the field descriptions are what an agent reads.
 */
const textPart = z.looseObject({ type: z.enum(["text", "input_text", "output_text"]), text: z.string() });
const imagePart = z.looseObject({
  type: z.enum(["image_url", "input_image"]),
  image_url: z.union([z.string(), z.looseObject({ url: z.string() })]),
});
const contentPart = z.union([textPart, imagePart, z.looseObject({ type: z.string() })]);

export const messageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]).describe("Who speaks."),
  content: z.union([z.string(), z.array(contentPart), z.null()]).describe("Text, or content parts (text, image_url / input_image)."),
});

export const toolSchema = z
  .looseObject({
    type: z.string().min(1).describe('"function" for a function tool, or a hosted tool name such as "web_search".'),
  })
  .describe("A tool the model may call.");

export const itemSchema = z.strictObject({
  customer_item_id: z.string().min(1).max(256).describe("Your id for the item, unique within the manifest; results are keyed by it."),
  operation: operationSchema.optional().describe("responses | embeddings | vision; defaults to the manifest's operation, else responses."),
  model: z.string().min(1).max(200).optional().describe("Catalog model slug, e.g. gpt-4o-mini."),
  model_options: z.array(z.string().min(1).max(200)).max(10).optional().describe("Other acceptable models; the router may pick any of them."),
  input: z.record(z.string(), z.unknown()).describe("The OpenAI-style request body: {messages} or {input} for responses/vision, {input} for embeddings."),
  metadata: z.record(z.string(), z.string().max(500)).optional().describe("Up to 16 string pairs returned with the result."),
  tools: z.array(toolSchema).max(128).optional().describe("Tools the model may call; only lanes with tool support serve such items."),
  max_output_tokens: z.number().int().positive().max(1_000_000).optional().describe("Cap on output tokens; also sizes the price estimate."),
});

export type ManifestItem = z.infer<typeof itemSchema>;

const responsesInput = z
  .looseObject({
    messages: z.array(messageSchema).min(1).optional(),
    input: z.union([z.string().min(1), z.array(z.union([messageSchema, contentPart])).min(1)]).optional(),
    instructions: z.string().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_output_tokens: z.number().int().positive().optional(),
    tools: z.array(toolSchema).optional(),
  })
  .refine((v) => v.messages !== undefined || v.input !== undefined, { message: "needs `messages` (chat style) or `input` (Responses style)" });

const embeddingsInput = z.looseObject({
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
  dimensions: z.number().int().positive().optional(),
});

/** Checks `input` against the item's operation; returns issues with paths relative to the item. */
export function checkItemInput(item: ManifestItem, operation: Operation): { path: (string | number)[]; message: string }[] {
  const schema = operation === "embeddings" ? embeddingsInput : responsesInput;
  const r = schema.safeParse(item.input);
  const issues = r.success ? [] : r.error.issues.map((i) => ({ path: ["input", ...(i.path as (string | number)[])], message: i.message }));
  if (item.metadata && Object.keys(item.metadata).length > 16) issues.push({ path: ["metadata"], message: "at most 16 pairs" });
  return issues;
}

const HOSTED = new Set<string>(hostedToolSchema.options);

/** What routing needs to know of an item's tools: any at all, and which hosted ones. */
export function toolNeeds(item: ManifestItem): { needs_tools: boolean; hosted_tools: string[] } {
  const tools = [...(item.tools ?? []), ...((item.input.tools as { type?: string }[] | undefined) ?? [])];
  const hosted = [...new Set(tools.map((t) => t?.type).filter((t): t is string => typeof t === "string" && HOSTED.has(t)))];
  return { needs_tools: tools.length > 0, hosted_tools: hosted };
}

/** Candidate models in preference order: `model`, then `model_options`, without repeats. */
export function candidateModels(item: ManifestItem, fallbackModel?: string): string[] {
  if (!item.model_options?.length) {
    const only = item.model ?? fallbackModel;
    return only ? [only] : [];
  }
  const list = [item.model ?? fallbackModel, ...(item.model_options ?? [])].filter((m): m is string => Boolean(m));
  return [...new Set(list)];
}

/** An OpenAI Batch input line: {custom_id, method, url, body}. */
export const openAiBatchLineSchema = z.looseObject({
  custom_id: z.string().min(1).max(256),
  method: z.literal("POST"),
  url: z.enum(["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]),
  body: z.looseObject({
    model: z.string().min(1),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    max_output_tokens: z.number().int().positive().optional(),
  }),
});

const IMAGE_CONTAINERS = ["content", "input", "messages"] as const;

/**
 * Whether any content part is an image; iterative with a depth cap, so hostile nesting can't
 * overflow the stack. Values and depths sit on two stacks, so the walk allocates no pair per node.
 */
function hasImage(value: unknown): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (depth > 64 || v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (const x of v) (values.push(x), depths.push(depth + 1));
      continue;
    }
    const o = v as Record<string, unknown>;
    if (o.type === "image_url" || o.type === "input_image") return true;
    for (const k of IMAGE_CONTAINERS) if (Array.isArray(o[k])) (values.push(o[k]), depths.push(depth + 1));
  }
  return false;
}

/** Translates an OpenAI Batch line into a native item (the body minus `model` becomes `input`). */
export function fromOpenAiBatchLine(line: z.infer<typeof openAiBatchLineSchema>): ManifestItem {
  const { model, max_tokens, max_completion_tokens, max_output_tokens, ...input } = line.body as Record<string, unknown>;
  const operation: Operation = line.url === "/v1/embeddings" ? "embeddings" : hasImage(input) ? "vision" : "responses";
  const maxOut = [max_output_tokens, max_completion_tokens, max_tokens].find((v) => typeof v === "number") as number | undefined;
  return {
    customer_item_id: line.custom_id,
    operation,
    model: model as string,
    input,
    ...(maxOut ? { max_output_tokens: maxOut } : {}),
  };
}

/** The operation an item runs as: its own, else the manifest's, else responses (vision when it has images). */
export function operationOf(item: ManifestItem, manifestDefault?: Operation): Operation {
  if (item.operation) return item.operation;
  if (manifestDefault) return manifestDefault;
  return hasImage(item.input) ? "vision" : "responses";
}

// jsonb, where a batch keeps its items, holds neither U+0000 nor unpaired UTF-16 surrogates; both
// are valid in JSON text (as \u escapes) and in JS strings, so they must be refused up front.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Deeper than this, a value is refused: the walks here and PostgreSQL's jsonb parser recurse. */
const MAX_NESTING = 256;

/** The first string (key or value) in `value` that PostgreSQL can't store, with its path and why. */
export function unstorableString(value: unknown): { path: (string | number)[]; message: string } | undefined {
  // The path is built on the way back out, so the walk over a valid item allocates nothing.
  const path: (string | number)[] = [];
  const bad = findBad(value, path, 0);
  return bad === undefined ? undefined : { path: path.reverse(), message: bad };
}

function badString(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character (\\u0000), which can't be stored; remove it";
  if (!isWellFormed(s)) return "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode";
  return undefined;
}

function findBad(value: unknown, path: (string | number)[], depth: number): string | undefined {
  if (typeof value === "string") return badString(value);
  if (value === null || typeof value !== "object") return undefined;
  if (depth >= MAX_NESTING) return `is nested more than ${MAX_NESTING} levels deep`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBad(value[i], path, depth + 1);
      if (bad) return (path.push(i), bad);
    }
  } else {
    for (const k in value) {
      const bad = badString(k) ?? findBad((value as Record<string, unknown>)[k], path, depth + 1);
      if (bad) return (path.push(k), bad);
    }
  }
  return undefined;
}
