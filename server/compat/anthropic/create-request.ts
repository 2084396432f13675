import { z } from "zod";

/** Anthropic's own rule for a `custom_id`; ours (customer_item_id) is looser, so theirs is enforced here. */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

const textBlock = z.looseObject({ type: z.literal("text"), text: z.string() });

const messageParams = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().min(1).max(1_000_000),
  messages: z
    .array(
      z.looseObject({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]) }),
    )
    .min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stop_sequences: z.array(z.string()).optional(),
  metadata: z.looseObject({}).optional(),
});
export type AnthropicMessageParams = z.infer<typeof messageParams>;

export const anthropicCreateBatchSchema = z
  .looseObject({
    requests: z
      .array(z.strictObject({ custom_id: z.string().regex(CUSTOM_ID, "must match ^[a-zA-Z0-9_-]{1,64}$"), params: messageParams }))
      .min(1)
      .max(100_000),
  })
  .superRefine((v, ctx) => {
    // Anthropic refuses a repeated custom_id at create; results are joined on it.
    const seen = new Set<string>();
    v.requests.forEach((r, i) => {
      if (seen.has(r.custom_id)) ctx.addIssue({ code: "custom", path: ["requests", i, "custom_id"], message: "duplicate custom_id" });
      seen.add(r.custom_id);
    });
  });
export type AnthropicCreateBatch = z.infer<typeof anthropicCreateBatchSchema>;

/**
 * Anthropic's model names onto our catalog's slugs. Our slugs are taken as they are (so any catalog
 * model can be named); a dated or versioned Claude name goes to the catalog's model of its family;
 * anything else is passed on for the create to refuse as an unknown model.
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

/**
 * Anthropic's custom tools (`{name, description, input_schema}`) as our function tools, which the
 * lanes turn back into each provider's form; other (server) tools pass as sent for the create to check.
 */
function nativeTools(tools: unknown): unknown {
  if (!Array.isArray(tools)) return tools;
  return tools.map((t) =>
    isObj(t) && (t.type === undefined || t.type === "custom") && typeof t.name === "string"
      ? {
          type: "function",
          function: {
            name: t.name,
            ...(t.description ? { description: t.description } : {}),
            parameters: t.input_schema ?? { type: "object" },
          },
        }
      : t,
  );
}

/** Anthropic's `tool_choice` in OpenAI's form: any → required, tool → that function. */
function nativeToolChoice(choice: unknown): unknown {
  if (!isObj(choice)) return choice;
  if (choice.type === "any") return "required";
  if (choice.type === "tool" && typeof choice.name === "string") return { type: "function", function: { name: choice.name } };
  return typeof choice.type === "string" ? choice.type : choice;
}

const systemText = (system: AnthropicMessageParams["system"]): string | undefined =>
  typeof system === "string" ? system : system?.map((b) => b.text).join("\n\n");

/**
 * One Anthropic request as a native item: chat-style input (the `system` prompt becomes a leading
 * system message, as our items carry it; custom tools become function tools), `max_tokens` kept and also set as the item's output cap so
 * the price estimate uses it. Fields we don't route on (metadata, stop_sequences) stay with the input.
 */
export function toNativeItem(
  req: { custom_id: string; params: AnthropicMessageParams },
  known: ReadonlySet<string> | ReadonlyMap<string, unknown>,
) {
  const { model, max_tokens, system, messages, metadata: _metadata, stop_sequences, tools, tool_choice, ...rest } = req.params;
  const sys = systemText(system);
  return {
    customer_item_id: req.custom_id,
    operation: "responses" as const,
    model: catalogModel(model, known),
    input: {
      ...rest,
      messages: [...(sys ? [{ role: "system" as const, content: sys }] : []), ...messages],
      max_tokens,
      ...(stop_sequences ? { stop: stop_sequences } : {}),
      ...(tools !== undefined ? { tools: nativeTools(tools) } : {}),
      ...(tool_choice !== undefined ? { tool_choice: nativeToolChoice(tool_choice) } : {}),
    },
    max_output_tokens: max_tokens,
  };
}
