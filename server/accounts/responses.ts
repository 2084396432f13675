import { z } from "zod";
import { listOf, moneySchema, timestamp } from "../responses.js";
import { SCOPES, environmentSchema } from "./schemas.js";

/** Success bodies of the account routes (server/accounts/service.ts, delivery-webhook.ts). */

// A secret shown once: an idempotent replay of the same request answers null in its place.
const shownOnce = (what: string) =>
  z.string().nullable().describe(`${what}, shown once, in this answer only; null when the answer is an idempotent replay. Store it now.`);

/** POST /v1/auth/agent-register. */
export const agentRegistrationObject = z.object({
  object: z.literal("agent_registration"),
  org_id: z.string().describe("org_…: the new organisation."),
  api_key: shownOnce("The live key (br_live_…): real providers, real credits"),
  api_key_id: z.string().describe("key_…: the live key's id."),
  test_api_key: shownOnce("The test key (br_test_…): the simulator, free test credit"),
  test_api_key_id: z.string().describe("key_…: the test key's id."),
  environment: z.literal("live").describe("The environment of `api_key`."),
  credit_balance: moneySchema.describe("The live credit balance (sign-up credit, if the operator grants one)."),
  verification_required: z.boolean().describe("true when an email was given: a verification email was sent."),
});

/** GET /v1/auth/account. */
export const accountObject = z.object({
  object: z.literal("account"),
  org_id: z.string(),
  name: z.string(),
  environment: environmentSchema.describe(
    "The key's environment: live (real providers, real credits) or test (simulator, free test credit).",
  ),
  credit_balance: moneySchema.describe("Available plus reserved."),
  available_balance: moneySchema.describe("What new batches can reserve."),
  reserved_balance: moneySchema.describe("Held by running batches."),
  billing_email: z.string().nullable(),
  created_at: timestamp(),
});

/** One API key as listed: never its secret (server/accounts/service.ts `presentKey`). */
export const apiKeyObject = z.object({
  object: z.literal("api_key"),
  id: z.string().describe("key_…"),
  api_key_id: z.string().describe("The id again, under the name the sign-up answer uses."),
  name: z.string().nullable(),
  prefix: z.string().describe("The visible start of the secret (e.g. br_live_AbCd), to tell keys apart."),
  environment: environmentSchema,
  scopes: z.array(z.enum(SCOPES)),
  status: z.enum(["active", "revoked", "expired"]),
  expires_at: timestamp().nullable(),
  revoked_at: timestamp().nullable(),
  last_used_at: timestamp().nullable(),
  previous_secret_valid_until: timestamp().nullable().describe("After a rotation: until when the old secret still works."),
  created_at: timestamp(),
});

/** POST /v1/auth/account/api-keys and …/rotate: the key with its new secret. */
export const apiKeyWithSecretObject = apiKeyObject.extend({ api_key: shownOnce("The secret") });

export const apiKeyList = listOf(apiKeyObject);

/** GET and PUT /v1/auth/account/delivery-webhook: the secret itself is never returned. */
export const deliveryWebhookObject = z.object({
  object: z.literal("delivery_webhook"),
  url: z.string().nullable().describe("Where batch events go for batches without their own webhook; null when none is set."),
  secret_last4: z.string().nullable().describe("The last 4 characters of the signing secret; null when there is none."),
});

/** DELETE /v1/auth/account/delivery-webhook. */
export const deliveryWebhookDeleted = z.object({
  object: z.literal("delivery_webhook"),
  url: z.null(),
  secret_last4: z.null(),
  deleted: z.literal(true),
});
