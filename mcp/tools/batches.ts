import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { artifactLinkObject, batchCounts, batchList, batchObject, batchStatusSchema, resultsPage } from "../../server/batches/responses.js";
import { artifactQuery, listBatchesQuery, resultsQuery } from "../../server/batches/schemas.js";
import { moneySchema } from "../../server/responses.js";
import type { Json } from "../platform.js";
import { defineTool } from "./define.js";
import { isTerminal } from "../../server/batches/statuses.js";
import { batchIdField, progress } from "./shapes.js";

// Under the MCP SDK's default 60 s request timeout, with room for the last poll.
const MAX_WAIT_S = 45;

function nextFor(batch: Json): string {
  if (!isTerminal(batch.status)) return `Still running: call get_batch_status again with wait_seconds (up to ${MAX_WAIT_S}).`;
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
    wait_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_WAIT_S)
      .default(0)
      .describe(`Wait up to this many seconds (0–${MAX_WAIT_S}) for the batch to end before answering; 0 answers at once.`),
  }),
  output: z.object({
    batch: batchObject,
    done: z.boolean().describe("true once the batch is completed, failed, cancelled or expired."),
    next_step: z.string(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const deadline = Date.now() + args.wait_seconds * 1000;
    let res = await platform.getBatch(args.batch_id);
    for (let pause = 250; !isTerminal(res.batch.status) && Date.now() + pause <= deadline; pause = Math.min(pause * 2, 2000)) {
      await sleep(pause);
      res = await platform.getBatch(args.batch_id);
    }
    const batch = res.batch;
    const data = { batch, done: isTerminal(batch.status), next_step: nextFor(batch) };
    return { data, summary: `Batch ${batch.id} is ${progress(batch)}; settled ${batch.settled_total.amount} USD. ${data.next_step}` };
  },
});

export const listBatches = defineTool({
  name: "list_batches",
  title: "List batches",
  description: "Your batches in this environment, newest first, a page at a time.",
  input: listBatchesQuery.pick({ limit: true, cursor: true, status: true }),
  output: batchList,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const page = await platform.listBatches(args);
    const lines = (page.data as Json[]).map((b) => `${b.id} ${progress(b as never)}`);
    const more = page.has_more ? ` More: call again with cursor ${page.next_cursor}.` : "";
    return { data: page, summary: lines.length ? `${lines.length} batches: ${lines.join("; ")}.${more}` : "No batches yet." };
  },
});

export const getBatchResults = defineTool({
  name: "get_batch_results",
  title: "Batch results",
  description:
    "The per-item results of an ended batch, in manifest order, a page at a time, with a summary of the whole batch (counts and cost). " +
    "Before the batch has ended this is a results_not_ready error: wait with get_batch_status first.",
  input: z.object({
    batch_id: batchIdField,
    // The API's bounds; a smaller default than its 100, since every result lands in the model's context.
    limit: resultsQuery.shape.limit
      .removeDefault()
      .default(20)
      .describe("Results per page, 1–1000 (default 20; the whole file: get_artifact_url)."),
    cursor: resultsQuery.shape.cursor,
    status: resultsQuery.shape.status,
  }),
  output: resultsPage.pick({ batch_id: true, results: true, has_more: true, next_cursor: true }).extend({
    summary: batchCounts
      .pick({ completed: true, failed: true, cancelled: true, expired: true })
      .extend({
        status: batchStatusSchema,
        item_count: batchObject.shape.item_count,
        quoted_total: moneySchema.describe("The locked total reserved at submit."),
        settled_total: moneySchema.describe("What the batch cost."),
      })
      .describe("The whole batch, whatever the page."),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const { batch_id, ...query } = args;
    const page = await platform.results(batch_id, query);
    const { batch } = await platform.getBatch(batch_id);
    const summary = {
      status: batch.status,
      item_count: batch.item_count,
      completed: batch.counts.completed,
      failed: batch.counts.failed,
      cancelled: batch.counts.cancelled,
      expired: batch.counts.expired ?? 0,
      quoted_total: batch.pricing_estimate.total,
      settled_total: batch.settled_total,
    };
    const data = { batch_id, summary, results: page.results, has_more: page.has_more, next_cursor: page.next_cursor };
    const more = page.has_more ? ` More: call again with cursor ${page.next_cursor}.` : "";
    return {
      data,
      summary:
        `Batch ${batch_id} ${progress(batch)}; cost ${batch.settled_total.amount} USD of ${batch.pricing_estimate.total.amount} quoted. ` +
        `This page: ${page.results.length} results.${more}`,
    };
  },
});

export const getArtifactUrl = defineTool({
  name: "get_artifact_url",
  title: "Download link for a batch file",
  description:
    "A signed URL (valid 15 minutes) to a whole JSONL file of an ended batch: output (completed items), errors (failed items) or receipt.",
  input: z.object({
    batch_id: batchIdField,
    kind: artifactQuery.shape.kind,
  }),
  output: artifactLinkObject,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const link = await platform.artifactUrl(args.batch_id, args.kind);
    return {
      data: link,
      summary: `${link.kind} file of ${args.batch_id} (${link.bytes} bytes, JSONL): ${link.url} — valid until ${link.expires_at}.`,
    };
  },
});

export const cancelBatch = defineTool({
  name: "cancel_batch",
  title: "Cancel a batch",
  description:
    "Stop a running batch: items not yet at a provider are cancelled and their reservation released; items already there may still finish " +
    "(and are billed). A batch that has already ended can't be cancelled (invalid_state).",
  input: z.object({ batch_id: batchIdField }),
  output: z.object({ batch: batchObject }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { platform }) {
    const res = await platform.cancelBatch(args.batch_id);
    return {
      data: { batch: res.batch },
      summary: `Batch ${res.batch.id} is ${progress(res.batch)}. Unfinished items are released; finished ones are kept and billed.`,
    };
  },
});
