import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { BATCH_STATUSES } from "../../server/batches/schemas.js";
import type { Json } from "../platform.js";
import { defineTool } from "./define.js";
import { batchIdField, batchObject, money, progress, TERMINAL } from "./shapes.js";

// Under the MCP SDK's default 60 s request timeout, with room for the last poll.
const MAX_WAIT_S = 45;

function nextFor(batch: Json): string {
  if (!TERMINAL.has(batch.status)) return `Still running: call get_batch_status again with wait_seconds (up to ${MAX_WAIT_S}).`;
  if ((batch.counts.completed ?? 0) + (batch.counts.failed ?? 0) === 0) return "It ended with no results.";
  return "Done: call get_batch_results to read the outputs (or get_artifact_url for the whole file), then send_feedback to rate them.";
}

export const getBatchStatus = defineTool({
  name: "get_batch_status",
  title: "Batch status",
  description:
    "A batch's status, item counts, lanes and cost so far. With wait_seconds, waits (polling) until the batch has ended or the time is up, " +
    "so one call can cover a short batch.",
  input: z.object({
    batch_id: batchIdField,
    wait_seconds: z.number().int().min(0).max(MAX_WAIT_S).default(0)
      .describe(`Wait up to this many seconds (0–${MAX_WAIT_S}) for the batch to end before answering; 0 answers at once.`),
  }),
  output: z.looseObject({
    batch: batchObject,
    done: z.boolean().describe("true once the batch is completed, failed, cancelled or expired."),
    next_step: z.string(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const deadline = Date.now() + args.wait_seconds * 1000;
    let res = await platform.getBatch(args.batch_id);
    for (let pause = 250; !TERMINAL.has(res.batch.status) && Date.now() + pause <= deadline; pause = Math.min(pause * 2, 2000)) {
      await sleep(pause);
      res = await platform.getBatch(args.batch_id);
    }
    const batch = res.batch;
    const data = { batch, done: TERMINAL.has(batch.status), next_step: nextFor(batch) };
    return { data, summary: `Batch ${batch.id} is ${progress(batch)}; settled ${batch.settled_total.amount} USD. ${data.next_step}` };
  },
});

export const listBatches = defineTool({
  name: "list_batches",
  title: "List batches",
  description: "Your batches in this environment, newest first, a page at a time.",
  input: z.object({
    limit: z.number().int().min(1).max(100).default(20).describe("Page size, 1–100."),
    cursor: z.string().max(64).optional().describe("next_cursor of the previous page."),
    status: z.enum(BATCH_STATUSES).optional().describe("Only batches in this status."),
  }),
  output: z.looseObject({ data: z.array(batchObject), has_more: z.boolean(), next_cursor: z.string().nullable() }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const page = await platform.listBatches(args);
    const lines = (page.data as Json[]).map((b) => `${b.id} ${progress(b as never)}`);
    const more = page.has_more ? ` More: call again with cursor ${page.next_cursor}.` : "";
    return { data: page, summary: lines.length ? `${lines.length} batches: ${lines.join("; ")}.${more}` : "No batches yet." };
  },
});

const resultItem = z.looseObject({
  customer_item_id: z.string(),
  status: z.string().describe("completed or failed."),
  output: z.unknown().describe("{text, content, tool_calls, finish_reason, model} for responses; {embeddings, dimensions} for embeddings; null when failed."),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
  usage: z.looseObject({ input_tokens: z.number(), output_tokens: z.number() }),
  lane_id: z.string().nullable(),
  cost: money,
});

export const getBatchResults = defineTool({
  name: "get_batch_results",
  title: "Batch results",
  description:
    "The per-item results of an ended batch, in manifest order, a page at a time, with a summary of the whole batch (counts and cost). " +
    "Before the batch has ended this is a results_not_ready error: wait with get_batch_status first.",
  input: z.object({
    batch_id: batchIdField,
    limit: z.number().int().min(1).max(100).default(20).describe("Results per page, 1–100 (the whole file: get_artifact_url)."),
    cursor: z.string().max(64).optional().describe("next_cursor of the previous page."),
    status: z.enum(["completed", "failed"]).optional().describe("Only completed, or only failed, items."),
  }),
  output: z.looseObject({
    batch_id: z.string(),
    summary: z.looseObject({
      status: z.string(), item_count: z.number(), completed: z.number(), failed: z.number(),
      quoted_total: money, settled_total: money,
    }),
    results: z.array(resultItem),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const { batch_id, ...query } = args;
    const page = await platform.results(batch_id, query);
    const { batch } = await platform.getBatch(batch_id);
    const summary = {
      status: batch.status, item_count: batch.item_count, completed: batch.counts.completed, failed: batch.counts.failed,
      cancelled: batch.counts.cancelled, expired: batch.counts.expired ?? 0,
      quoted_total: batch.pricing_estimate.total, settled_total: batch.settled_total,
    };
    const data = { batch_id, summary, results: page.results, has_more: page.has_more, next_cursor: page.next_cursor };
    const more = page.has_more ? ` More: call again with cursor ${page.next_cursor}.` : "";
    return {
      data,
      summary: `Batch ${batch_id} ${progress(batch)}; cost ${batch.settled_total.amount} USD of ${batch.pricing_estimate.total.amount} quoted. ` +
        `This page: ${page.results.length} results.${more}`,
    };
  },
});

export const getArtifactUrl = defineTool({
  name: "get_artifact_url",
  title: "Download link for a batch file",
  description: "A signed URL (valid 15 minutes) to a whole JSONL file of an ended batch: output (completed items), errors (failed items) or receipt.",
  input: z.object({
    batch_id: batchIdField,
    kind: z.enum(["output", "errors", "receipt"]).default("output").describe("output (completed items, default), errors (failed items) or receipt."),
  }),
  output: z.looseObject({
    url: z.string(), expires_at: z.string(), kind: z.string(), bytes: z.number(), sha256: z.string(), format: z.string(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const link = await platform.artifactUrl(args.batch_id, args.kind);
    return { data: link, summary: `${link.kind} file of ${args.batch_id} (${link.bytes} bytes, JSONL): ${link.url} — valid until ${link.expires_at}.` };
  },
});

export const cancelBatch = defineTool({
  name: "cancel_batch",
  title: "Cancel a batch",
  description:
    "Stop a running batch: items not yet at a provider are cancelled and their reservation released; items already there may still finish " +
    "(and are billed). A batch that has already ended can't be cancelled (invalid_state).",
  input: z.object({ batch_id: batchIdField }),
  output: z.looseObject({ batch: batchObject }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const res = await platform.cancelBatch(args.batch_id);
    return { data: { batch: res.batch }, summary: `Batch ${res.batch.id} is ${progress(res.batch)}. Unfinished items are released; finished ones are kept and billed.` };
  },
});
