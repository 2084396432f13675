import fc from "fast-check";
import type { Schema } from "./json-schema.js";
import type { UploadKind } from "./manifest-inputs.js";

/** One endpoint the fuzzer writes to. */
export interface Target {
  method: string;
  /** OpenAPI-style template, `{id}` for path parameters. */
  path: string;
  /** The request body's JSON schema; none for routes that take no JSON (cancel) or stream their own body. */
  schema?: Schema;
  /** Upload routes: how they take a manifest, and whether a `purpose` field goes beside it. */
  upload?: { kinds: UploadKind[]; needsPurpose: boolean };
  idempotencyRequired: boolean;
}

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  parameters?: { name: string; in: string; required?: boolean }[];
}

const WRITE_METHODS = new Set(["post", "put", "patch"]);

// Routes that read their body themselves (spec/api.md §4). Their OpenAPI entry has no JSON request
// body, so the document alone can't tell how to feed them; everything else is read from it.
const UPLOADS: Record<string, Target["upload"]> = {
  "POST /v1/batches/input-manifests": { kinds: ["raw", "multipart"], needsPurpose: false },
  "POST /v1/files": { kinds: ["multipart"], needsPurpose: true },
  "POST /v1/openai/v1/files": { kinds: ["multipart"], needsPurpose: true },
};

/** Every POST/PUT/PATCH of the OpenAPI document, so an endpoint added later is fuzzed without a change here. */
export function targetsFromOpenApi(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Target[] {
  const out: Target[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!WRITE_METHODS.has(method)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      out.push({
        method: method.toUpperCase(),
        path,
        schema: op.requestBody?.content?.["application/json"]?.schema,
        upload: UPLOADS[key],
        idempotencyRequired: Boolean(op.parameters?.some((p) => p.in === "header" && p.name === "Idempotency-Key" && p.required)),
      });
    }
  }
  return out;
}

// The compatible surfaces are outside /v1/openapi.json (they speak OpenAI's and Anthropic's shapes);
// their request bodies are written here from those vendors' API references.
const openAiCreateBatch: Schema = {
  type: "object",
  required: ["input_file_id", "endpoint", "completion_window"],
  properties: {
    input_file_id: { type: "string", minLength: 1, maxLength: 64 },
    endpoint: { enum: ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"] },
    completion_window: { const: "24h" },
    metadata: { anyOf: [{ type: "object", additionalProperties: { type: "string", maxLength: 512 } }, { type: "null" }] },
  },
};

/** Anthropic's create, params and all (test/fuzz/anthropic-params.test.ts mutates inside params). */
export const anthropicCreateBatch: Schema = {
  type: "object",
  required: ["requests"],
  properties: {
    requests: {
      type: "array",
      minItems: 1,
      maxItems: 100_000,
      items: {
        type: "object",
        required: ["custom_id", "params"],
        additionalProperties: false,
        properties: {
          custom_id: { type: "string", pattern: "^[a-zA-Z0-9_-]{1,64}$" },
          params: {
            type: "object",
            required: ["model", "max_tokens", "messages"],
            properties: {
              model: { type: "string", minLength: 1, maxLength: 256 },
              max_tokens: { type: "integer", minimum: 1, maximum: 1_000_000 },
              messages: {
                type: "array",
                minItems: 1,
                items: {
                  type: "object",
                  required: ["role", "content"],
                  properties: {
                    role: { enum: ["user", "assistant"] },
                    content: { anyOf: [{ type: "string" }, { type: "array", items: { type: "object" } }] },
                  },
                },
              },
              system: { anyOf: [{ type: "string" }, { type: "array", items: { type: "object" } }] },
              temperature: { type: "number", minimum: 0, maximum: 1 },
            },
          },
        },
      },
    },
  },
};

/**
 * The same create as far as its envelope goes: a problem inside `params` is, by Anthropic's contract,
 * that request's `errored` result in an accepted batch — not a refusal — so this sweep's "refused,
 * nothing stored" holds for the envelope only. anthropic-params.test.ts covers what's inside.
 */
const anthropicEnvelope: Schema = JSON.parse(JSON.stringify(anthropicCreateBatch));
anthropicEnvelope.properties!.requests!.items = {
  ...(anthropicEnvelope.properties!.requests!.items as Schema),
  properties: { ...(anthropicEnvelope.properties!.requests!.items as Schema).properties, params: { type: "object" } },
};

export const COMPAT_TARGETS: Target[] = [
  { method: "POST", path: "/v1/openai/v1/files", upload: UPLOADS["POST /v1/openai/v1/files"], idempotencyRequired: false },
  { method: "POST", path: "/v1/openai/v1/batches", schema: openAiCreateBatch, idempotencyRequired: false },
  { method: "POST", path: "/v1/openai/v1/batches/{id}/cancel", idempotencyRequired: false },
  { method: "POST", path: "/v1/anthropic/v1/messages/batches", schema: anthropicEnvelope, idempotencyRequired: false },
  { method: "POST", path: "/v1/anthropic/v1/messages/batches/{id}/cancel", idempotencyRequired: false },
];

/**
 * Path ids: well-formed ids of objects that don't exist (a request must never act on a real object,
 * so even a body the route ignores is refused, with a 404), and ids no route may pass to SQL.
 */
export const pathId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("bat_", "key_", "file_", "msgbatch_", "batch_").chain((p) => fc.stringMatching(/^[0-9A-Z]{26}$/).map((s) => p + s)),
  fc.constantFrom("%00", "bat_%00", "%ED%A0%80", "%FF", "%C0%80", "x".repeat(300), "%2e%2e", "%F0%9F%98%80", "%E2%80%AE", "%20", "a%0Ab"),
);

/** The concrete path, `{…}` parameters filled. */
export const fillPath = (template: string, id: string) => template.replace(/\{[^}]+\}/g, id);
