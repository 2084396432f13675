import * as accounts from "../../accounts/service.js";
import { agentRegisterInput, createKeyInput, keyIdParams, rotateKeyInput } from "../../accounts/schemas.js";
import { deleteDeliveryWebhook, deliveryWebhookInput, getDeliveryWebhook, setDeliveryWebhook } from "../../accounts/delivery-webhook.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

export function accountRoutes(deps: AppDeps) {
  return [
    defineRoute({
      method: "post", path: "/v1/auth/agent-register", tag: "accounts", auth: "none", limiter: "agentRegister", status: 201,
      summary: "Sign up without an email: a new org with a live and a test API key.",
      body: agentRegisterInput, secretFields: ["api_key", "test_api_key"],
      handler: async (_ctx, { body }) => accounts.registerAgent(deps, body),
    }),
    defineRoute({
      method: "get", path: "/v1/auth/account", tag: "accounts", auth: "any",
      summary: "The org behind the key, with its balances in this environment.",
      handler: async (_ctx, { actor }) => accounts.getAccount(deps, actor),
    }),
    defineRoute({
      method: "post", path: "/v1/auth/account/api-keys", tag: "accounts", auth: "keys", status: 201,
      summary: "Create an API key; the secret is shown once, in this answer.",
      body: createKeyInput, secretFields: ["api_key"],
      handler: async (_ctx, { actor, body }) => accounts.createKey(deps, actor, body),
    }),
    defineRoute({
      method: "get", path: "/v1/auth/account/api-keys", tag: "accounts", auth: "keys",
      summary: "List the org's keys in this environment (never their secrets).",
      handler: async (_ctx, { actor }) => accounts.listKeys(deps, actor),
    }),
    defineRoute({
      method: "post", path: "/v1/auth/account/api-keys/:id/rotate", tag: "accounts", auth: "keys",
      summary: "A new secret for the same key id; the old one works for `grace_seconds` more.",
      params: keyIdParams, body: rotateKeyInput, secretFields: ["api_key"],
      handler: async (_ctx, { actor, params, body }) => accounts.rotateKey(deps, actor, params.id, body.grace_seconds),
    }),
    defineRoute({
      method: "delete", path: "/v1/auth/account/api-keys/:id", tag: "accounts", auth: "keys",
      summary: "Revoke a key at once.",
      params: keyIdParams,
      handler: async (_ctx, { actor, params }) => accounts.revokeKey(deps, actor, params.id),
    }),
    defineRoute({
      method: "put", path: "/v1/auth/account/delivery-webhook", tag: "accounts", auth: "keys",
      summary: "Set the org's default webhook {url, secret}; the secret is never returned.",
      body: deliveryWebhookInput,
      handler: async (_ctx, { actor, body }) => setDeliveryWebhook(deps, actor, body),
    }),
    defineRoute({
      method: "get", path: "/v1/auth/account/delivery-webhook", tag: "accounts", auth: "keys",
      summary: "The org's default webhook: its URL and the last 4 characters of its secret.",
      handler: async (_ctx, { actor }) => getDeliveryWebhook(deps, actor),
    }),
    defineRoute({
      method: "delete", path: "/v1/auth/account/delivery-webhook", tag: "accounts", auth: "keys",
      summary: "Remove the org's default webhook.",
      handler: async (_ctx, { actor }) => deleteDeliveryWebhook(deps, actor),
    }),
  ];
}
