import { CREATE_BATCH_SECRET_FIELDS, createBatch } from "../../batches/create.js";
import { artifactQuery, batchIdParams, createBatchSchema, getBatchQuery, listBatchesQuery, resultsQuery } from "../../batches/schemas.js";
import * as batches from "../../batches/service.js";
import {
  artifactLinkObject,
  batchEnvelope,
  batchList,
  billingReceiptObject,
  createBatchResponse,
  optimizationReportObject,
  resultsPage,
  routeReceiptObject,
} from "../../batches/responses.js";
import { webhookDeliveryList } from "../../webhooks/responses.js";
import { optimizationQuery, optimizationReport } from "../../batches/optimization.js";
import { listDeliveries } from "../../webhooks/deliveries.js";
import type { BatchRow } from "../../../db/queries/batches.js";
import type { AppDeps } from "../context.js";
import { PollAnswers } from "../poll-answers.js";
import { defineRoute } from "../route.js";

export function batchRoutes(deps: AppDeps) {
  const polls = new PollAnswers<BatchRow>();
  return [
    defineRoute({
      method: "post",
      path: "/v1/batches",
      tag: "batches",
      auth: "submit",
      status: 202,
      idempotency: "required",
      summary: "Create a batch from items or an uploaded manifest; reserves the quoted total at once.",
      body: createBatchSchema,
      secretFields: CREATE_BATCH_SECRET_FIELDS,
      response: createBatchResponse,
      handler: async (_ctx, { actor, body }) => ({ batch: await createBatch(deps, actor, body) }),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches",
      tag: "batches",
      auth: "read",
      summary: "List batches, newest first.",
      query: listBatchesQuery,
      response: batchList,
      handler: async (_ctx, { actor, query }) => batches.listBatches(deps, actor, query),
    }),
    // Registered before /v1/batches/:id so the literal path wins.
    defineRoute({
      method: "get",
      path: "/v1/batches/optimization-report",
      tag: "batches",
      auth: "read",
      summary: "Your settled work priced at an imported provider's list batch prices vs what it cost here.",
      query: optimizationQuery,
      response: optimizationReportObject,
      handler: async (_ctx, { actor, query }) => optimizationReport(deps, actor, query),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id",
      tag: "batches",
      auth: "read",
      summary: "Poll a batch: `{batch, id, status, state}`.",
      params: batchIdParams,
      query: getBatchQuery,
      response: batchEnvelope,
      // Not async: both ways already give a promise, and a poll needn't wait on one more.
      handler: (_ctx, { actor, params, query }) => {
        if (query.include_billing_receipt === "true" || query.include_billing_receipt === "1") {
          return batches.getBatch(deps, actor, params.id, true);
        }
        // Polled in a loop: answered from bytes kept per read (see PollAnswers).
        return polls.answer(`${actor.org_id}/${actor.environment}/${params.id}`, () => batches.pollBatch(deps, actor, params.id, false));
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/batches/:id/cancel",
      tag: "batches",
      auth: "cancel",
      summary: "Stop routing; unfinished items are released, finished ones kept and billed.",
      params: batchIdParams,
      response: batchEnvelope,
      handler: async (_ctx, { actor, params }) => batches.cancelBatch(deps, actor, params.id),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/results",
      tag: "batches",
      auth: "read",
      summary: "Per-item results in manifest order (cursor pagination); 409 results_not_ready until the batch ends.",
      params: batchIdParams,
      query: resultsQuery,
      response: resultsPage,
      handler: async (_ctx, { actor, params, query }) => batches.results(deps, actor, params.id, query),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/artifact-url",
      tag: "batches",
      auth: "read",
      summary: "A signed URL (15 minutes) to the whole output, errors or receipt JSONL file.",
      params: batchIdParams,
      query: artifactQuery,
      response: artifactLinkObject,
      handler: async (ctx, { actor, params, query }) => {
        const link = await batches.artifactUrl(deps, actor, params.id, query.kind);
        // The local store signs paths; the client gets them under the origin it called.
        return link.url.startsWith("/") ? { ...link, url: `${ctx.protocol}://${ctx.host}${link.url}` } : link;
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/route-receipt",
      tag: "batches",
      auth: "read",
      summary: "Every routing decision: lanes selected and rejected with reasons, fallbacks, retries.",
      params: batchIdParams,
      response: routeReceiptObject,
      handler: async (_ctx, { actor, params }) => batches.routeReceipt(deps, actor, params.id),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/billing-receipt",
      tag: "batches",
      auth: "read",
      summary: "Quoted vs settled, per-lane usage and cost, fee, SLA refund, reserved and released.",
      params: batchIdParams,
      response: billingReceiptObject,
      handler: async (_ctx, { actor, params }) => batches.billingReceipt(deps, actor, params.id),
    }),
    defineRoute({
      method: "get",
      path: "/v1/batches/:id/webhook-deliveries",
      tag: "batches",
      auth: "read",
      summary: "Every webhook delivery of the batch and each attempt.",
      params: batchIdParams,
      response: webhookDeliveryList,
      handler: async (_ctx, { actor, params }) => {
        await batches.ownBatch(deps.db, actor, params.id);
        return listDeliveries(deps.db, actor.org_id, actor.environment, params.id);
      },
    }),
  ];
}
