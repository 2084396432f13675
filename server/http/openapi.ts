import { z, type ZodType } from "zod";
import { isJsonResponse, type RouteSpec } from "./route.js";

const errorEnvelope = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "details", "request_id"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        details: { type: "object" },
        request_id: { type: "string" },
      },
    },
  },
};

function jsonSchema(schema: ZodType, io: "input" | "output") {
  const s = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

function parametersOf(schema: ZodType | undefined, where: "query" | "path") {
  if (!schema) return [];
  const s = jsonSchema(schema, "input") as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === "path" || (s.required ?? []).includes(name),
    description: prop.description,
    schema: prop,
  }));
}

/**
 * The success response: a JSON body from its schema, or the media types of a raw one (OpenAPI 3.1
 * allows a media type without a schema: the bytes are whatever the file holds).
 */
function success(response: RouteSpec["response"]) {
  if (response === undefined) return { description: "Success", content: { "application/json": { schema: { type: "object" } } } };
  if (isJsonResponse(response))
    return { description: "Success", content: { "application/json": { schema: jsonSchema(response, "output") } } };
  return { description: response.description, content: Object.fromEntries(response.contentTypes.map((t) => [t, {}])) };
}

/** The OpenAPI 3.1 document, built from the very route specs the server mounts. */
export function buildOpenApi(routes: RouteSpec[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}_${path.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "")}`,
      parameters: [
        ...parametersOf(r.params, "path"),
        ...parametersOf(r.query, "query"),
        ...(r.method === "post" || r.idempotency
          ? [
              {
                name: "Idempotency-Key",
                in: "header",
                required: r.idempotency === "required",
                schema: { type: "string", minLength: 8, maxLength: 128 },
              },
            ]
          : []),
      ],
      responses: {
        [String(r.status ?? 200)]: success(r.response),
        default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
    if (r.auth !== "none") op.security = [{ bearerAuth: [] }];
    if (r.body) op.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(r.body, "input") } } };
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "BatchRouter API", version, description: "Batch AI routing with an OpenAI-Batch-compatible API." },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "br_live_… or br_test_… API key" } },
      schemas: { Error: errorEnvelope },
    },
    paths,
  };
}
