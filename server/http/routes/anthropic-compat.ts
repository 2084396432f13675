import { z } from "zod";
import {
  cancelAnthropicBatch,
  createAnthropicBatch,
  deleteAnthropicBatch,
  listAnthropicBatches,
  openAnthropicResults,
  retrieveAnthropicBatch,
} from "../../compat/anthropic/batches.js";
import { ANTHROPIC_BODY_LIMIT } from "../../compat/anthropic/request-stream.js";
import { fail } from "../../errors.js";
import { requireJsonType } from "../middleware/json-body.js";
import type { AppContext, AppDeps } from "../context.js";
import { defineRoute, type RouteSpec } from "../route.js";

const BASE = "/v1/anthropic/v1/messages/batches";
const TAG = "anthropic-compat";

// Where the client reached us (behind a proxy: its forwarded host), as the native routes build links;
// Koa 3's ctx.origin is the Origin header, not this.
const originOf = (ctx: AppContext) => `${ctx.protocol}://${ctx.host}`;

const idParams = z.object({ id: z.string().min(1).max(64) });

// Anthropic allows pages of up to 1,000; ours hold at most 100 and say has_more, which the SDK's
// auto-pagination follows.
const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(20),
    after_id: z.string().max(64).optional(),
    before_id: z.string().max(64).optional(),
  })
  .refine((q) => !(q.after_id && q.before_id), { message: "send after_id or before_id, not both", path: ["before_id"] });

/**
 * Anthropic's Message Batches API under /v1/anthropic/v1, for Anthropic's SDKs pointed at us (the
 * key comes as `x-api-key` or `Authorization: Bearer`; any `anthropic-version` is accepted). Thin:
 * the mapping lives in server/compat/anthropic/. Errors on these paths are rendered in Anthropic's
 * envelope by the error middleware.
 */
export function anthropicCompatRoutes(deps: AppDeps): RouteSpec[] {
  return [
    defineRoute({
      method: "post",
      path: BASE,
      tag: TAG,
      auth: "submit",
      status: 200,
      // Up to 256 MB, read as it streams (request by request) rather than by the JSON body middleware.
      streamsBody: true,
      // Anthropic has no idempotency keys and its SDK sends none; a caller's key is honoured with the
      // body's declared x-content-sha256, which the create checks against what it read.
      idempotency: "content-sha256",
      summary: "Anthropic messages.batches.create: a native batch, one item per request, streamed.",
      handler: async (ctx, { actor }) => {
        try {
          requireJsonType(ctx);
          const length = ctx.request.length;
          if (length !== undefined && length > ANTHROPIC_BODY_LIMIT)
            throw fail.payloadTooLarge(`A create body is limited to ${ANTHROPIC_BODY_LIMIT} bytes; split the batch.`, {
              limit_bytes: ANTHROPIC_BODY_LIMIT,
            });
          const declaredSha256 = ctx.get("x-content-sha256").trim().toLowerCase() || undefined;
          // Not destroyed when the create stops early: the answer still goes out on this request.
          const body = ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
          return await createAnthropicBatch(deps, actor, body, originOf(ctx), { declaredSha256 });
        } catch (err) {
          // The client may still be sending: read the rest and drop it, so it gets this answer.
          if (!ctx.req.readableEnded) ctx.req.resume();
          throw err;
        }
      },
    }),
    defineRoute({
      method: "get",
      path: BASE,
      tag: TAG,
      auth: "read",
      summary: "Anthropic messages.batches.list: newest first; after_id pages to older, before_id to newer.",
      query: listQuery,
      handler: async (ctx, { actor, query }) =>
        listAnthropicBatches(deps.db, actor, { ...query, limit: Math.min(query.limit, 100) }, originOf(ctx)),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/:id`,
      tag: TAG,
      auth: "read",
      summary: "Anthropic messages.batches.retrieve.",
      params: idParams,
      handler: async (ctx, { actor, params }) => retrieveAnthropicBatch(deps.db, actor, params.id, originOf(ctx)),
    }),
    defineRoute({
      method: "post",
      path: `${BASE}/:id/cancel`,
      tag: TAG,
      auth: "cancel",
      status: 200,
      summary: "Anthropic messages.batches.cancel.",
      params: idParams,
      handler: async (ctx, { actor, params }) => cancelAnthropicBatch(deps, actor, params.id, originOf(ctx)),
    }),
    defineRoute({
      method: "delete",
      path: `${BASE}/:id`,
      tag: TAG,
      auth: "submit",
      summary: "Anthropic messages.batches.delete: only once the batch has ended.",
      params: idParams,
      handler: async (_ctx, { actor, params }) => deleteAnthropicBatch(deps.db, actor, params.id),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/:id/results`,
      tag: TAG,
      auth: "read",
      summary: "Anthropic messages.batches.results: JSONL, one line per request, streamed page by page.",
      params: idParams,
      handler: async (ctx, { actor, params }) => {
        const stream = await openAnthropicResults(deps.db, actor, params.id);
        ctx.body = stream;
        ctx.type = "application/binary";
        ctx.set("Cache-Control", "private, no-store");
        return undefined;
      },
    }),
  ];
}
