import { z } from "zod";
import { getFile } from "../../../db/queries/files.js";
import { createOpenAiBatch } from "../../compat/openai/create.js";
import { openAiCreateBatchSchema } from "../../compat/openai/create-request.js";
import { isRenderedBatchFile, listOpenAiFiles, openAiFileObject, openRendered } from "../../compat/openai/files.js";
import { cancelOpenAiBatch, listOpenAiBatches, retrieveOpenAiBatch } from "../../compat/openai/batches.js";
import { ownFile } from "../../files/service.js";
import type { AppDeps } from "../context.js";
import { defineRoute, type RouteSpec } from "../route.js";
import { fileRoutes } from "./files.js";

const BASE = "/v1/openai/v1";
const TAG = "openai-compat";

const idParams = z.object({ id: z.string().min(1).max(64) });

// OpenAI allows files pages of up to 10,000; ours hold at most 100 and say has_more, which the SDK's
// auto-pagination follows.
const filesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  after: z.string().max(64).optional(),
  purpose: z.string().max(64).optional(),
  order: z.enum(["asc", "desc"]).optional(),
});

const batchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(64).optional(),
});

/**
 * The OpenAI Batch API (files + batches) under /v1/openai/v1, for OpenAI's SDKs pointed at us.
 * Thin: the mapping lives in server/compat/openai/; the upload and the raw file bytes are the native
 * routes' own handlers, so both surfaces stream and check manifests the same way. Errors on these
 * paths are rendered in OpenAI's envelope by the error middleware.
 */
export function openAiCompatRoutes(deps: AppDeps): RouteSpec[] {
  // The native files routes' handlers, run as they are: they read only the actor and the `id` path
  // parameter, which these routes parse the same way.
  const native = fileRoutes(deps);
  const nativeHandler = (method: string, path: string): RouteSpec["handler"] => {
    const route = native.find((r) => r.method === method && r.path === path);
    if (!route) throw new Error(`no native route ${method.toUpperCase()} ${path} to delegate to`);
    return route.handler;
  };
  const upload = nativeHandler("post", "/v1/files");
  const content = nativeHandler("get", "/v1/files/:id/content");
  const remove = nativeHandler("delete", "/v1/files/:id");
  return [
    defineRoute({
      method: "post",
      path: `${BASE}/files`,
      tag: TAG,
      auth: "submit",
      status: 200,
      streamsBody: true,
      idempotency: "content-sha256",
      summary: "OpenAI files.create: multipart `file` + `purpose=batch`, streamed and checked like a manifest.",
      handler: async (ctx, input) => {
        const { id } = (await upload(ctx, input)) as { id: string };
        return openAiFileObject(deps, (await getFile(deps.db, input.actor.org_id, input.actor.environment, id))!);
      },
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/files`,
      tag: TAG,
      auth: "read",
      summary: "OpenAI files.list.",
      query: filesQuery,
      handler: async (_ctx, { actor, query }) => listOpenAiFiles(deps, actor, { ...query, limit: Math.min(query.limit, 100) }),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/files/:id`,
      tag: TAG,
      auth: "read",
      summary: "OpenAI files.retrieve.",
      params: idParams,
      handler: async (_ctx, { actor, params }) => openAiFileObject(deps, await ownFile(deps.db, actor, params.id)),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/files/:id/content`,
      tag: TAG,
      auth: "read",
      summary: "OpenAI files.content: an upload as sent; a batch's output or error file in OpenAI's line format.",
      params: idParams,
      handler: async (ctx, input) => {
        const file = await ownFile(deps.db, input.actor, input.params.id);
        if (!isRenderedBatchFile(file)) return content(ctx, input);
        const rendered = await openRendered(deps, file);
        // Body first: Koa drops Content-Length when a stream body replaces another body.
        ctx.body = rendered.body;
        ctx.type = rendered.contentType;
        ctx.length = rendered.bytes;
        ctx.set("Cache-Control", "private, no-store");
        return undefined;
      },
    }),
    defineRoute({
      method: "delete",
      path: `${BASE}/files/:id`,
      tag: TAG,
      auth: "submit",
      summary: "OpenAI files.delete.",
      params: idParams,
      handler: async (ctx, input) => remove(ctx, input),
    }),
    defineRoute({
      method: "post",
      path: `${BASE}/batches`,
      tag: TAG,
      auth: "submit",
      // OpenAI's SDK sends no Idempotency-Key (OpenAI has none); one sent by the caller is honoured.
      idempotency: "optional",
      summary: "OpenAI batches.create: a native batch from an uploaded OpenAI batch file.",
      body: openAiCreateBatchSchema,
      handler: async (_ctx, { actor, body }) => createOpenAiBatch(deps, actor, body),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/batches`,
      tag: TAG,
      auth: "read",
      summary: "OpenAI batches.list: newest first, `after` = the last id seen.",
      query: batchesQuery,
      handler: async (_ctx, { actor, query }) => listOpenAiBatches(deps.db, actor, query),
    }),
    defineRoute({
      method: "get",
      path: `${BASE}/batches/:id`,
      tag: TAG,
      auth: "read",
      summary: "OpenAI batches.retrieve.",
      params: idParams,
      handler: async (_ctx, { actor, params }) => retrieveOpenAiBatch(deps.db, actor, params.id),
    }),
    defineRoute({
      method: "post",
      path: `${BASE}/batches/:id/cancel`,
      tag: TAG,
      auth: "cancel",
      summary: "OpenAI batches.cancel.",
      params: idParams,
      handler: async (_ctx, { actor, params }) => cancelOpenAiBatch(deps, actor, params.id),
    }),
  ];
}
