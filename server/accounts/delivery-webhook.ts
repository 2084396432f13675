import { z } from "zod";
import type { Db } from "../../db/connection.js";
import type { Config } from "../config.js";
import { decrypt, deriveKey, encrypt } from "../crypto.js";
import { errors } from "../errors.js";
import { checkWebhookUrl } from "../webhooks/url-guard.js";
import type { Actor } from "./actor.js";

export const deliveryWebhookInput = z.strictObject({
  url: z.string().url().max(2048).describe("https URL that receives batch events for batches without their own webhook."),
  secret: z.string().min(8).max(256).describe("Signs every delivery (HMAC-SHA256); never returned, only its last 4 characters."),
});

interface Deps {
  db: Db;
  config: Config;
  secret: Buffer;
}

const sealKey = (deps: Deps) => deriveKey(deps.secret, "webhook-secret");

function present(url: string | null, sealed: string | null, deps: Deps) {
  if (!url || !sealed) return { object: "delivery_webhook", url: null, secret_last4: null };
  return { object: "delivery_webhook", url, secret_last4: decrypt(sealKey(deps), sealed).slice(-4) };
}

/** PUT /v1/auth/account/delivery-webhook: the org's default webhook (both environments share it). */
export async function setDeliveryWebhook(deps: Deps, actor: Actor, input: z.infer<typeof deliveryWebhookInput>) {
  checkWebhookUrl(input.url, { allowPrivate: deps.config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS });
  const sealed = encrypt(sealKey(deps), input.secret);
  await deps.db("orgs").where({ id: actor.org_id }).update({ webhook_url: input.url, webhook_secret_enc: sealed });
  return present(input.url, sealed, deps);
}

export async function getDeliveryWebhook(deps: Deps, actor: Actor) {
  const org = await deps.db("orgs").where({ id: actor.org_id }).first("webhook_url", "webhook_secret_enc");
  if (!org) throw errors.notFound("account");
  return present(org.webhook_url, org.webhook_secret_enc, deps);
}

export async function deleteDeliveryWebhook(deps: Deps, actor: Actor) {
  await deps.db("orgs").where({ id: actor.org_id }).update({ webhook_url: null, webhook_secret_enc: null });
  return { object: "delivery_webhook", url: null, secret_last4: null, deleted: true };
}
