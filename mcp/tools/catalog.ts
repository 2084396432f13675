import { z } from "zod";
import { modelList, workflowProductList } from "../../server/catalog/responses.js";
import { modelFilterQuery } from "../../server/catalog/schemas.js";
import { defineTool } from "./define.js";

// The catalog is public: these tools work before the agent has a key.

export const listModels = defineTool({
  name: "list_models",
  title: "List models and provider lanes",
  description:
    "The model catalog: every model with the provider lanes (offerings) that serve it — price per million input/output tokens " +
    "after batch discounts, region, privacy, tool support, capacity and observed reliability. Use a model's slug as `model` in items. Needs no key.",
  // The HTTP filters, with examples for the model; the platform validates them with the same schema.
  input: modelFilterQuery.extend({
    provider: modelFilterQuery.shape.provider.describe(
      "Only models this provider serves (e.g. openai, anthropic, groq); offerings narrow to it too.",
    ),
    hosted_tool: modelFilterQuery.shape.hosted_tool.describe("Only models with an offering that runs this hosted tool (e.g. web_search)."),
    region: modelFilterQuery.shape.region.describe(
      "Only models offered in this region (us, eu, apac; global means any); offerings narrow to it too.",
    ),
  }),
  output: modelList,
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
  output: workflowProductList,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(_args, { platform }) {
    const list = await platform.listWorkflowProducts();
    const items = list.data as { slug: string; title: string }[];
    return { data: list, summary: `${items.length} workflow products: ${items.map((w) => `${w.slug} (${w.title})`).join("; ")}.` };
  },
});
