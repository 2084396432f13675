import { z } from "zod";
import { COMPLETIONS_ENDPOINT, completionsItem, completionsProblems } from "../compat/openai/completions.js";
import { hostedToolSchema, operationSchema, type Operation } from "../catalog/types.js";

/**
 * One manifest item, whatever provider runs it (spec/api.md §3b). Used by quotes, batch creation,
 * uploaded manifests and the MCP tools, so the field descriptions are what an agent reads.
 */
export const TEXT_PART_TYPES: ReadonlySet<string> = new Set(["text", "input_text", "output_text"]);
export const IMAGE_PART_TYPES: ReadonlySet<string> = new Set(["image_url", "input_image"]);

/**
 * Images are fetched by the provider that runs the item, so only URLs a provider can and should
 * fetch are taken: public https URLs and inline data: URIs. file:, http:, ftp: and the rest are
 * refused here rather than handed on (file:///etc/passwd must never leave as a request).
 */
export const IMAGE_URL_RULE = "an image must be an https: URL or a data: URI (data:image/…;base64,…)";
export const isAllowedImageUrl = (url: string): boolean => /^https:\/\/[^\s]+$/i.test(url) || /^data:image\/[a-z0-9.+-]+[;,]/i.test(url);

/** One content part: text, image (https or data URL), or another typed part passed through as sent. */
const contentPart = z.looseObject({ type: z.string().min(1) }).superRefine((part, ctx) => {
  const p = part as Record<string, unknown>;
  if (TEXT_PART_TYPES.has(part.type) && typeof p.text !== "string") {
    ctx.addIssue({ code: "custom", path: ["text"], message: "a text part needs `text` (a string)" });
  }
  if (IMAGE_PART_TYPES.has(part.type)) {
    const image = p.image_url;
    const nested = image !== null && typeof image === "object";
    const url = nested ? (image as Record<string, unknown>).url : image;
    if (typeof url !== "string")
      ctx.addIssue({
        code: "custom",
        path: nested ? ["image_url", "url"] : ["image_url"],
        message: `needs \`image_url\`: ${IMAGE_URL_RULE}`,
      });
    else if (!isAllowedImageUrl(url))
      ctx.addIssue({ code: "custom", path: nested ? ["image_url", "url"] : ["image_url"], message: IMAGE_URL_RULE });
  }
});

export const messageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]).describe("Who speaks."),
  content: z.union([z.string(), z.array(contentPart), z.null()]).describe("Text, or content parts (text, image_url / input_image)."),
});

/** The tool types an item may name: function tools, and the hosted tools of the catalog. */
export const TOOL_TYPES: readonly string[] = ["function", ...hostedToolSchema.options];
const TOOL_TYPE_SET: ReadonlySet<string> = new Set(TOOL_TYPES);

export const toolSchema = z
  .looseObject({
    type: z
      .string()
      .refine((t) => TOOL_TYPE_SET.has(t), { message: `unknown tool type; one of ${TOOL_TYPES.join(", ")}` })
      .describe('"function" for a function tool, or a hosted tool name such as "web_search".'),
  })
  .describe("A tool the model may call.");

export const itemSchema = z.strictObject({
  customer_item_id: z.string().min(1).max(256).describe("Your id for the item, unique within the manifest; results are keyed by it."),
  operation: operationSchema.optional().describe("responses | embeddings | vision; defaults to the manifest's operation, else responses."),
  model: z.string().min(1).max(200).optional().describe("Catalog model slug, e.g. gpt-4o-mini."),
  model_options: z
    .array(z.string().min(1).max(200))
    .max(10)
    .optional()
    .describe("Other acceptable models; the router may pick any of them."),
  input: z
    .record(z.string(), z.unknown())
    .describe("The OpenAI-style request body: {messages} or {input} for responses/vision, {input} for embeddings."),
  metadata: z.record(z.string(), z.string().max(500)).optional().describe("Up to 16 string pairs returned with the result."),
  tools: z.array(toolSchema).max(128).optional().describe("Tools the model may call; only lanes with tool support serve such items."),
  max_output_tokens: z.number().int().positive().max(1_000_000).optional().describe("Cap on output tokens; also sizes the price estimate."),
});

export type ManifestItem = z.infer<typeof itemSchema>;

/**
 * An element of a Responses-style `input` array: a message when it has a `role`, else a content
 * part. Chosen by shape rather than by a union, so a bad image URL inside a message is reported as
 * such, not as "matches neither".
 */
const inputElement = z.unknown().superRefine((v, ctx) => {
  const schema = v !== null && typeof v === "object" && "role" in v ? messageSchema : contentPart;
  const r = schema.safeParse(v);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
});

const responsesInput = z
  .looseObject({
    messages: z.array(messageSchema).min(1).optional(),
    input: z.union([z.string().min(1), z.array(inputElement).min(1)]).optional(),
    instructions: z.string().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    max_tokens: z.number().int().positive().optional(),
    max_output_tokens: z.number().int().positive().optional(),
    tools: z.array(toolSchema).optional(),
  })
  .refine((v) => v.messages !== undefined || v.input !== undefined, {
    message: "needs `messages` (chat style) or `input` (Responses style)",
  });

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
const NO_HOSTED_TOOLS: string[] = [];

export function toolNeeds(item: ManifestItem): { needs_tools: boolean; hosted_tools: string[] } {
  // Most items use no tools: one shared empty list instead of a million (the router only reads it).
  if (!item.tools?.length && !(item.input.tools as unknown[] | undefined)?.length)
    return { needs_tools: false, hosted_tools: NO_HOSTED_TOOLS };
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

/** An OpenAI Batch input line: {custom_id, method, url, body}; a legacy completions body is checked for what it can carry. */
export const openAiBatchLineSchema = z
  .looseObject({
    custom_id: z.string().min(1).max(256),
    method: z.literal("POST"),
    url: z.enum(["/v1/chat/completions", "/v1/responses", "/v1/embeddings", COMPLETIONS_ENDPOINT]),
    body: z.looseObject({
      model: z.string().min(1),
      max_tokens: z.number().int().positive().optional(),
      max_completion_tokens: z.number().int().positive().optional(),
      max_output_tokens: z.number().int().positive().optional(),
    }),
  })
  .superRefine((line, ctx) => {
    if (line.url !== COMPLETIONS_ENDPOINT) return;
    for (const p of completionsProblems(line.body)) ctx.addIssue({ code: "custom", path: ["body", ...p.path], message: p.message });
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
      for (const x of v) values.push(x), depths.push(depth + 1);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (o.type === "image_url" || o.type === "input_image") return true;
    for (const k of IMAGE_CONTAINERS) if (Array.isArray(o[k])) values.push(o[k]), depths.push(depth + 1);
  }
  return false;
}

/** Translates an OpenAI Batch line into a native item (the body minus `model` becomes `input`). */
export function fromOpenAiBatchLine(line: z.infer<typeof openAiBatchLineSchema>): ManifestItem {
  if (line.url === COMPLETIONS_ENDPOINT) return completionsItem(line.custom_id, line.body);
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
