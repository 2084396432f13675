import type { AppDeps } from "../context.js";
import { capabilitiesObject, openApiDocument } from "../../meta/responses.js";
import { buildOpenApi } from "../openapi.js";
import { defineRoute, type RouteSpec } from "../route.js";

export const API_VERSION = "2026-11-22";

/** Capabilities and the OpenAPI document; `routes` is every mounted route, this file's included. */
export function metaRoutes(deps: AppDeps, routes: () => RouteSpec[]) {
  let openapi: unknown;
  return [
    defineRoute({
      method: "get",
      path: "/v1/capabilities",
      tag: "meta",
      auth: "none",
      summary: "What this deployment has configured, so a client can hide what it lacks.",
      response: capabilitiesObject,
      handler: async () => ({
        object: "capabilities",
        api_version: API_VERSION,
        email: false,
        checkout: false,
        s3_artifacts: false,
        mcp: true,
        providers: deps.providerModes?.() ?? {},
        batch_validation: { input_file_id: "async" as const, inline_items_async_over: null },
      }),
    }),
    defineRoute({
      method: "get",
      path: "/v1/openapi.json",
      tag: "meta",
      auth: "none",
      summary: "This API's OpenAPI 3.1 document, generated from the schemas the server validates with.",
      response: openApiDocument,
      handler: async () => (openapi ??= buildOpenApi(routes(), API_VERSION)),
    }),
  ];
}
