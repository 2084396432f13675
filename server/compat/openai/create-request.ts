import { z } from "zod";
import type { CreateBatchRequest } from "../../batches/schemas.js";
import { privacyTierSchema, regionSchema, routingModeSchema, slaTierSchema } from "../../catalog/types.js";
import { errors } from "../../errors.js";
import { OPENAI_ENDPOINTS, type OpenAiEndpoint } from "./batch-object.js";

/** POST /batches as OpenAI's SDK sends it. */
export const openAiCreateBatchSchema = z.object({
  input_file_id: z.string().min(1).max(64),
  endpoint: z.enum(OPENAI_ENDPOINTS),
  completion_window: z.literal("24h"),
  metadata: z.record(z.string(), z.string().max(512)).nullish(),
  // Accepted for compatibility; our result files follow the batch's own retention.
  output_expires_after: z.unknown().optional(),
});
export type OpenAiCreateBatch = z.infer<typeof openAiCreateBatchSchema>;

const ROUTING_KEYS = {
  routing_mode: routingModeSchema,
  sla_tier: slaTierSchema,
  privacy_tier: privacyTierSchema,
} as const;

/**
 * Our routing options, read from OpenAI `metadata` (the only free-form field OpenAI's create has):
 * `routing_mode`, `sla_tier`, `privacy_tier`, and `allowed_regions` as a comma-separated list. The
 * pairs stay in the batch's metadata too, where the customer put them.
 */
export function routingFromMetadata(metadata: Record<string, string> | null | undefined): Partial<CreateBatchRequest> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(ROUTING_KEYS)) {
    const value = metadata?.[key];
    if (value === undefined) continue;
    const r = schema.safeParse(value.trim());
    if (!r.success) throw badMetadata(key, `expected one of ${schema.options.join(", ")}`);
    out[key] = r.data;
  }
  const regions = metadata?.allowed_regions;
  if (regions !== undefined) {
    const list = regions.split(",").map((s) => s.trim());
    const r = z.array(regionSchema).min(1).max(4).safeParse(list);
    if (!r.success) throw badMetadata("allowed_regions", `a comma-separated list of ${regionSchema.options.join(", ")}`);
    out.allowed_regions = r.data;
  }
  return out as Partial<CreateBatchRequest>;
}

function badMetadata(key: string, message: string) {
  return errors.invalidRequest(`Invalid metadata.${key}: ${message}.`, [{ path: `/metadata/${key}`, message }]);
}

/** What's wrong with one OpenAI line for a batch of `endpoint`, or undefined; the upload checked everything else. */
export function lineEndpointProblem(line: { url?: unknown; body?: unknown }, endpoint: OpenAiEndpoint): string | undefined {
  if (line.url !== endpoint) return `url ${JSON.stringify(line.url)} differs from the batch's endpoint ${endpoint}`;
  const body = (line.body ?? {}) as Record<string, unknown>;
  if (endpoint === "/v1/chat/completions" && body.messages === undefined) return "a /v1/chat/completions body needs `messages`";
  if (endpoint === "/v1/responses" && body.input === undefined) return "a /v1/responses body needs `input`";
  if (endpoint === "/v1/completions" && body.prompt === undefined) return "a /v1/completions body needs `prompt`";
  return undefined;
}
