import { z } from "zod";
import { executionSchema } from "../catalog/responses.js";

/** Success bodies of the deployment routes: capabilities, health, the OpenAPI document. */

/** GET /v1/capabilities. */
export const capabilitiesObject = z.object({
  object: z.literal("capabilities"),
  api_version: z.string().describe("The date-named version of this API."),
  email: z.boolean().describe("Verification and password-reset emails can be sent."),
  checkout: z.boolean().describe("Card checkout (POST /v1/billing/checkout-sessions) is configured."),
  s3_artifacts: z.boolean().describe("Artifacts are stored in S3 (else on local disk)."),
  mcp: z.boolean().describe("/mcp is served."),
  providers: z.record(z.string(), executionSchema).describe("Per provider slug: live, simulated or off."),
  batch_validation: z
    .object({
      input_file_id: z
        .literal("async")
        .describe("A batch from an uploaded manifest is created `validating` and prepared by its first job."),
      inline_items_async_over: z
        .number()
        .int()
        .nullable()
        .describe("Inline items past this count are validated asynchronously too; null: inline items are always validated at create."),
    })
    .describe("Which creates answer at once with status `validating` (spec/api.md §5, large batches)."),
});

/** GET /healthz. */
export const livenessObject = z.object({ status: z.literal("ok") });

/** GET /readyz (503 service_unavailable, with the same checks in its details, when not ready). */
export const readinessObject = z.object({
  status: z.literal("ready"),
  checks: z.object({ database: z.literal("ok"), queue: z.literal("ok") }),
});

/** GET /v1/openapi.json: an OpenAPI 3.1 document, open by nature. */
export const openApiDocument = z.looseObject({
  openapi: z.literal("3.1.0"),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});
