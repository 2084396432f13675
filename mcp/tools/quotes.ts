import { z } from "zod";
import { quoteObject } from "../../server/quotes/responses.js";
import { manifestShape } from "../../server/quotes/schemas.js";
import { PlatformError, type Json, type Platform } from "../platform.js";
import { defineTool } from "./define.js";
import { routingFields, sourceFields } from "./shapes.js";

const invalid = (path: string, message: string) =>
  new PlatformError("invalid_request", `Invalid arguments: ${path}: ${message}.`, 400, { errors: [{ path, message }] });

/**
 * The manifest part of a request body from a tool's arguments: inline items as they are, an
 * uploaded manifest by id, or a local file uploaded first (stdio only — the server can't read the
 * agent's disk). Returns the body without the tool-only fields.
 */
export async function manifestBody(args: Json, platform: Platform, allowVolume: boolean): Promise<Json> {
  const { file_path, idempotency_key: _key, ...body } = args;
  const sources = ["items", "file_path", "input_file_id", ...(allowVolume ? ["estimated_items"] : [])].filter((k) => args[k] !== undefined);
  if (sources.length !== 1) {
    const names = allowVolume
      ? "`items`, `file_path`, `input_file_id` or `estimated_items` (with `models`/`model`)"
      : "`items`, `file_path` or `input_file_id`";
    throw invalid(sources.length ? `/${sources[1]}` : "/items", `send exactly one of ${names}`);
  }
  if (file_path === undefined) return body;
  if (platform.transport !== "stdio") {
    throw invalid(
      "/file_path",
      "over /mcp the server can't read your files; send `items` inline, or upload the JSONL with POST /v1/batches/input-manifests and pass its `input_file_id`",
    );
  }
  const file = await platform.uploadManifest(file_path as string);
  return { ...body, input_file_id: file.id };
}

export const quoteBatch = defineTool({
  name: "quote_batch",
  title: "Quote a batch (free)",
  description:
    "Price a batch before running it: every provider lane that could serve the items is considered, the cheapest that meet your constraints " +
    "are chosen, and the price is locked for 10 minutes under the returned quote_id. Free; reserves nothing. Send the items (inline, a local " +
    "JSONL file_path, or an input_file_id), or a volume (models/model + estimated_items) to price work you haven't written yet.",
  input: z.object({
    ...sourceFields,
    models: manifestShape.models.describe("Volume quote: the candidate models (catalog slugs)."),
    estimated_items: manifestShape.estimated_items,
    sample_items: manifestShape.sample_items.describe(
      "Volume quote: a few representative items (same shape as `items`) to size the estimate.",
    ),
    ...routingFields,
  }),
  output: quoteObject,
  annotations: { readOnlyHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, { platform }) {
    const body = await manifestBody(args, platform, true);
    const q = await platform.quote(body);
    const funding = q.funding_preview.can_fund
      ? "Your balance covers it."
      : `Your available balance is short by ${q.funding_preview.shortfall.amount} USD: add credits before submitting.`;
    const next =
      q.kind === "volume"
        ? "A volume quote prices work you haven't sent; submit_batch needs the items."
        : `Next: submit_batch with quote_id ${q.quote_id} and the same ${args.file_path ? "file_path" : args.input_file_id ? "input_file_id" : "items"}.`;
    return {
      data: q,
      summary: `Quote ${q.quote_id}: ${q.item_count} items, total ${q.pricing_estimate.total.amount} USD, locked until ${q.expires_at}. ${q.customer_explanation} ${funding} ${next}`,
    };
  },
});
