import { z } from "zod";
import { hostedToolSchema, operationSchema, regionSchema } from "./types.js";

// `?operation=` with nothing after it is how many clients spell "no filter" (the contract's own
// example reads that way), so an empty value means absent rather than an invalid enum value.
const filter = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/** Filters of GET /v1/catalog/models; an unknown enum value is a 400, not an empty list. */
export const modelFilterQuery = z.object({
  operation: filter(operationSchema).describe("Only models that do this operation: responses, embeddings or vision."),
  provider: filter(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]*$/)
      .max(64),
  ).describe("Only models this provider serves (e.g. groq); the offerings listed narrow to it too."),
  hosted_tool: filter(hostedToolSchema).describe("Only models with at least one offering that runs this hosted tool."),
  region: filter(regionSchema).describe(
    "Only models offered in this region; the offerings listed narrow to it too. `global` means any region.",
  ),
});
export type ModelFilter = z.infer<typeof modelFilterQuery>;

export const slugParams = z.object({
  slug: z.string().min(1).max(128).describe("The catalog slug, e.g. gpt-4o-mini or openai."),
});

export const workflowSlugParams = z.object({
  slug: z.string().min(1).max(128).describe("`name@vN` (e.g. classify-support-tickets@v3), or the bare name for its newest version."),
});
