import { z } from "zod";
import { hostedToolSchema, operationSchema, regionSchema } from "../../server/catalog/types.js";
import { defineTool } from "./define.js";
import { money } from "./shapes.js";

// The catalog is public: these tools work before the agent has a key.

export const listModels = defineTool({
  name: "list_models",
  title: "List models and provider lanes",
  description:
    "The model catalog: every model with the provider lanes (offerings) that serve it — price per million input/output tokens " +
    "after batch discounts, region, privacy, tool support, capacity and observed reliability. Use a model's slug as `model` in items. Needs no key.",
  input: z.object({
    operation: operationSchema.optional().describe("Only models that do this: responses, embeddings or vision."),
    provider: z.string().max(64).optional().describe("Only models this provider serves (e.g. openai, anthropic, groq); offerings narrow to it too."),
    hosted_tool: hostedToolSchema.optional().describe("Only models with an offering that runs this hosted tool (e.g. web_search)."),
    region: regionSchema.optional().describe("Only models offered in this region (us, eu, apac; global means any); offerings narrow to it too."),
  }),
  output: z.looseObject({
    data: z.array(z.looseObject({
      slug: z.string(),
      display_name: z.string(),
      provider: z.string(),
      operations: z.array(z.string()),
      context_window: z.number(),
      provider_offerings: z.array(z.looseObject({ lane_id: z.string(), provider: z.string(), input_per_mtok: money, output_per_mtok: money })),
    })),
    provider_count: z.number(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const list = await platform.listModels(args);
    const models = list.data as { slug: string; operations: string[]; provider_offerings: { input_per_mtok: { amount: string } }[] }[];
    const line = (m: (typeof models)[number]) => {
      const cheapest = Math.min(...m.provider_offerings.map((o) => Number(o.input_per_mtok.amount)));
      return `${m.slug} (${m.operations.join("/")}, ${m.provider_offerings.length} lanes, from ${cheapest} USD/Mtok input)`;
    };
    return { data: list, summary: `${models.length} models from ${list.provider_count} providers: ${models.map(line).join("; ")}.` };
  },
});

export const listWorkflowProducts = defineTool({
  name: "list_workflow_products",
  title: "List workflow products",
  description:
    "Packaged jobs (e.g. classify-support-tickets@v3): each has a preset manifest (operation, model, prompt template), a routing posture, " +
    "an output contract and a success SLA. Needs no key.",
  input: z.object({}),
  output: z.looseObject({
    data: z.array(z.looseObject({ slug: z.string(), title: z.string(), description: z.string(), operation: z.string() })),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(_args, { platform }) {
    const list = await platform.listWorkflowProducts();
    const items = list.data as { slug: string; title: string }[];
    return { data: list, summary: `${items.length} workflow products: ${items.map((w) => `${w.slug} (${w.title})`).join("; ")}.` };
  },
});
