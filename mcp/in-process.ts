import type { ZodType } from "zod";
import type { Actor } from "../server/accounts/actor.js";
import { getAccount, requireScope } from "../server/accounts/service.js";
import type { Scope } from "../server/accounts/schemas.js";
import { CREATE_BATCH_SECRET_FIELDS, createBatch } from "../server/batches/create.js";
import { createBatchSchema, listBatchesQuery, resultsQuery } from "../server/batches/schemas.js";
import * as batches from "../server/batches/service.js";
import { listModels, listWorkflowProducts } from "../server/catalog/presenters.js";
import { modelFilterQuery } from "../server/catalog/schemas.js";
import { isAppError, type ErrorCode } from "../server/errors.js";
import { jsonFingerprint, runIdempotent } from "../server/idempotency.js";
import type { AppDeps } from "../server/deps.js";
import { validationError } from "../server/validation.js";
import { recordFeedback } from "../server/learning/feedback.js";
import { feedbackInput } from "../server/learning/schemas.js";
import { quoteRequestSchema } from "../server/quotes/schemas.js";
import * as quotes from "../server/quotes/service.js";
import { PlatformError, type Idempotent, type Json, type Platform } from "./platform.js";

/**
 * The platform as the server's own /mcp endpoint reaches it: the domain services the HTTP routes
 * call, with the same checks the routes make — the key's scope, the route's zod schema, and the
 * Idempotency-Key protocol — so a tool call and the matching API request behave alike. (Looping
 * back over HTTP would have been shorter, but every tool call would then spend the per-IP limit of
 * the loopback address, shared by all agents, and authenticate twice.)
 */
export function inProcessPlatform(deps: AppDeps, actor: Actor, request: { origin: string; requestId: string }): Platform {
  const guard = async <T>(scope: Scope | null, run: () => Promise<T>): Promise<T> => {
    try {
      if (scope) requireScope(actor, scope);
      return await run();
    } catch (err) {
      if (isAppError(err)) throw new PlatformError(err.code, err.message, err.status, err.details ?? {}, request.requestId);
      throw err;
    }
  };
  const parse = <T>(schema: ZodType<T>, value: unknown, where: "body" | "query"): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw validationError(where, r.error);
    return r.data;
  };
  const idempotent = (path: string, body: Json, key: string, status: number, run: () => Promise<Json>, secretFields?: readonly string[]) =>
    guardedIdempotency(deps, actor, request.requestId, { path, body, key, status, secretFields }, run);

  return {
    transport: "http",
    baseUrl: request.origin,
    keyEnvironment: () => actor.environment,
    // /mcp always has a key (the Bearer one), so register_agent never signs up from here.
    registerAndUseTestKey: async () => {
      throw new PlatformError("invalid_state", "This connection is already authenticated; sign up with POST /v1/auth/agent-register.", 409);
    },
    uploadManifest: async () => {
      throw new PlatformError("invalid_request", "file_path works only with the stdio command.", 400);
    },
    getAccount: () => guard(null, () => getAccount(deps, actor)),
    listModels: (query) =>
      guard(null, async () => listModels(await deps.catalog.get(), parse(modelFilterQuery, query, "query"), deps.providerModes?.() ?? {})),
    listWorkflowProducts: () => guard(null, async () => listWorkflowProducts(await deps.catalog.get())),
    quote: (body) => guard("quote", () => quotes.quoteManifest(deps, actor, parse(quoteRequestSchema, body, "body"))),
    createBatch: (body, key) =>
      guard("submit", () =>
        idempotent(
          "/v1/batches",
          body,
          key,
          202,
          async () => ({ batch: await createBatch(deps, actor, parse(createBatchSchema, body, "body")) }),
          CREATE_BATCH_SECRET_FIELDS,
        ),
      ),
    getBatch: (id) => guard("read", () => batches.getBatch(deps, actor, id, false)),
    listBatches: (query) => guard("read", () => batches.listBatches(deps, actor, parse(listBatchesQuery, query, "query"))),
    results: (id, query) => guard("read", () => batches.results(deps, actor, id, parse(resultsQuery, query, "query"))),
    artifactUrl: (id, kind) =>
      guard("read", async () => {
        const link = await batches.artifactUrl(deps, actor, id, kind as "output" | "errors" | "receipt");
        // As the HTTP route does: the local store signs paths, completed with the caller's origin.
        return link.url.startsWith("/") ? { ...link, url: `${request.origin}${link.url}` } : link;
      }),
    cancelBatch: (id) => guard("cancel", () => batches.cancelBatch(deps, actor, id)),
    sendFeedback: (id, body, key) =>
      guard("feedback", () =>
        idempotent(`/v1/batches/${id}/feedback`, body, key, 201, () => recordFeedback(deps, actor, id, parse(feedbackInput, body, "body"))),
      ),
  };
}

/**
 * The Idempotency-Key protocol of the HTTP API (server/idempotency.ts) with the same scope and
 * fingerprint (method, path, canonical body), so a key used over /mcp and over HTTP is one key.
 */
async function guardedIdempotency(
  deps: AppDeps,
  actor: Actor,
  requestId: string,
  req: { path: string; body: Json; key: string; status: number; secretFields?: readonly string[] },
  run: () => Promise<Json>,
): Promise<Idempotent> {
  const call = {
    db: deps.db,
    scope: `${actor.org_id}:${actor.environment}`,
    key: req.key,
    fingerprint: jsonFingerprint("POST", req.path, req.body),
    requestId,
    secretFields: req.secretFields,
  };
  const outcome = await runIdempotent(call, async () => ({ status: req.status, body: await run(), headers: {} }));
  const body = outcome.response.body as Json;
  if (outcome.replayed && outcome.response.status >= 400) {
    // A stored error envelope of this very server (server/idempotency.ts), so its code is one of ours.
    const e = body.error as { code: ErrorCode; message: string; details?: Record<string, unknown>; request_id?: string };
    throw new PlatformError(e.code, e.message, outcome.response.status, e.details ?? {}, e.request_id ?? requestId, true);
  }
  return { body, replayed: outcome.replayed };
}
