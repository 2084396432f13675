import type Router from "@koa/router";
import { z, type ZodType } from "zod";
import type { Actor } from "../accounts/actor.js";
import type { Scope } from "../accounts/schemas.js";
import { fail } from "../errors.js";
import { unstorableValue } from "../text-guard.js";
import { validationError } from "../validation.js";
import { jsonPointer } from "../json-pointer.js";
import type { AppContext, AppDeps, RateLimiters } from "./context.js";
import { requireActor } from "./middleware/auth.js";
import { withIdempotency, type IdempotencyMode } from "./middleware/idempotency.js";
import { streamsOwnBody } from "./middleware/json-body.js";
import { consume } from "./middleware/rate-limit.js";
import { PreparedJson } from "./prepared-json.js";

type Method = "get" | "post" | "put" | "delete";

type Auth = Scope | "any" | "none";

export interface RouteInput<B, Q, P, A extends Auth = Auth> {
  body: B;
  query: Q;
  params: P;
  /** The caller's key; a public route (`auth: "none"`) has none. */
  actor: A extends "none" ? undefined : Actor;
}

/** A success body that isn't JSON (a stream of stored bytes): its media types and what it is. */
export interface RawResponse {
  contentTypes: readonly string[];
  description: string;
}

/** The route answers JSON described by this schema (not raw bytes). */
export const isJsonResponse = (r: RouteSpec["response"]): r is ZodType => r instanceof z.ZodType;

/**
 * One endpoint: its schemas are both what the server validates with and what /v1/openapi.json
 * publishes, so the two can't disagree.
 */
export interface RouteSpec<B = unknown, Q = unknown, P = unknown, A extends Auth = Auth> {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  /** A scope the key needs, "any" for any valid key, "none" for a public endpoint. */
  auth: A;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  /**
   * "required" / "optional" as usual (every POST is at least optional). "none": the route handles
   * repeats itself, or they are harmless. "content-sha256": for uploads that stream their body — the
   * usual fingerprint hashes the body, which has not been read when the key is claimed (reading it
   * first would mean buffering up to 2 GB). So the key is honoured only when the client declares the
   * body's hash in `x-content-sha256` (the upload verifies it), and that header is fingerprinted;
   * without it the key is ignored and a retried upload just makes a second file.
   */
  idempotency?: IdempotencyMode | "none" | "content-sha256";
  /** Top-level fields of the success body holding a secret shown once: never stored for, or sent by, a replay. */
  secretFields?: readonly string[];
  /** The handler reads the request body itself (the JSON body middleware skips the route). */
  streamsBody?: true;
  /** An extra, narrower per-IP limiter for endpoints that create accounts. */
  limiter?: keyof Omit<RateLimiters, "perKey">;
  status?: number;
  /**
   * The success body, for /v1/openapi.json: the domain's response schema (server/<domain>/responses.ts)
   * of a JSON answer, or the media types of a body that isn't JSON (a file's bytes).
   */
  response?: ZodType | RawResponse;
  /** Returns the JSON body, or sets ctx.body itself (streams) and returns undefined. */
  handler: (ctx: AppContext, input: RouteInput<B, Q, P, A>) => Promise<unknown>;
}

function parse<T>(schema: ZodType<T> | undefined, value: unknown, where: "body" | "query" | "path"): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(where, r.error);
  return r.data;
}

/**
 * Path ids and query values reach SQL as text: a NUL (`%00`) or an unpaired surrogate there would
 * be a 500 from PostgreSQL, so every route refuses them here, before its own schema runs.
 */
function refuseUnstorable(values: Record<string, unknown>, where: "query" | "path"): void {
  const bad = unstorableValue(values);
  if (!bad) return;
  const path = jsonPointer(bad.path.slice(0, 1));
  throw fail.invalidRequest(`Invalid ${where}: ${path}: ${bad.message}.`, { location: where, errors: [{ path, message: bad.message }] });
}

export function defineRoute<B, Q, P, A extends Auth>(spec: RouteSpec<B, Q, P, A>): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** A route's whole pipeline for a request the router (or a hot-route match) gave it, params set. */
export type RouteRunner = (ctx: AppContext) => Promise<void>;

/**
 * Mounts route specs on a Koa router: auth → limits → idempotency → validation → handler. Returns
 * each route's pipeline by `METHOD path`, for the hot routes app.ts matches before the router.
 */
export function mountRoutes(router: Router, routes: RouteSpec[], deps: AppDeps, limiters: RateLimiters): Map<string, RouteRunner> {
  const runners = new Map<string, RouteRunner>();
  for (const spec of routes) {
    if (Boolean(spec.streamsBody) !== streamsOwnBody(spec.method, spec.path)) {
      throw new Error(`${spec.method.toUpperCase()} ${spec.path}: streamsBody and STREAMED_BODY_ROUTES (json-body.ts) must agree`);
    }
    const run = routeRunner(spec, deps, limiters);
    runners.set(`${spec.method.toUpperCase()} ${spec.path}`, run);
    router[spec.method](spec.path, (ctx) => run(ctx as unknown as AppContext));
  }
  return runners;
}

function routeRunner(spec: RouteSpec, deps: AppDeps, limiters: RateLimiters): RouteRunner {
  const scope = spec.auth === "any" || spec.auth === "none" ? undefined : spec.auth;
  // Idempotency-Key: required where said, honoured on every POST, and on uploads their own way.
  const mode = spec.idempotency === "none" || spec.idempotency === "content-sha256" ? undefined : (spec.idempotency ?? "optional");
  const keyed = spec.idempotency === "content-sha256" || (mode !== undefined && (mode === "required" || spec.method === "post"));
  return async (c) => {
    if (spec.limiter) await consume(c, limiters[spec.limiter], c.ip);
    const actor = spec.auth === "none" ? undefined : await requireActor(c, deps, limiters, scope);
    // No closure for the common case (a GET): every request would make one (tsx also names it).
    if (!keyed) return await execute(spec, c, actor);
    if (spec.idempotency === "content-sha256") {
      const sha = c.get("x-content-sha256").trim().toLowerCase();
      if (!sha || !c.get("Idempotency-Key")) return execute(spec, c, actor);
      // Stands in for the unread body in the fingerprint: the declared hash (checked against the
      // bytes by the upload), what else shapes the result, and the media type without its boundary.
      const declared = [sha, c.get("x-batchrouter-item-count").trim(), c.querystring, c.request.type];
      c.state.rawBody = Buffer.from(`upload ${JSON.stringify(declared)}`);
      return withIdempotency(c, deps.db, "optional", () => execute(spec, c, actor));
    }
    await withIdempotency(c, deps.db, mode!, () => execute(spec, c, actor), spec.secretFields);
  };
}

/** What a request without a query string presents: Koa would parse "" with a URLSearchParams each time. */
const NO_QUERY: Readonly<Record<string, never>> = Object.freeze({});

/** What mime-types makes of `application/json`, which Koa's ctx.type would look up per request. */
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** Validation → handler → the answer on the context. */
async function execute(spec: RouteSpec, c: AppContext, actor: Actor | undefined): Promise<void> {
  const rawQuery = c.querystring === "" ? NO_QUERY : c.query;
  refuseUnstorable(c.params, "path");
  refuseUnstorable(rawQuery, "query");
  const params = parse(spec.params, c.params, "path");
  const query = parse(spec.query, rawQuery, "query");
  // No body at all reads as {} (optional bodies); an explicit JSON null is a wrong type.
  const body = parse(spec.body, c.state.body === undefined ? {} : c.state.body, "body");
  const result = await spec.handler(c, { body, query, params, actor } as RouteInput<unknown, unknown, unknown>);
  if (result instanceof PreparedJson) {
    c.status = spec.status ?? 200;
    c.res.setHeader("Content-Type", JSON_CONTENT_TYPE); // before the body, so Koa keeps it
    c.body = result.json;
    c.state.preparedEtag = result.etag;
  } else if (result !== undefined) {
    c.status = spec.status ?? 200;
    c.body = result;
  }
}
