import { z } from "zod";
import type { Db } from "../../db/connection.js";
import * as hooksQ from "../../db/queries/delivery-webhooks.js";
import type { Config } from "../config.js";
import { decrypt, deriveKey, encrypt } from "../crypto.js";
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

export const webhookSealKey = (platformSecret: Buffer) => deriveKey(platformSecret, "webhook-secret");

function present(row: { url: string | null; secret_enc: string } | undefined, deps: Deps) {
  return {
    object: "delivery_webhook",
    url: row?.url ?? null,
    // A row without a URL only holds the secret that signs batches naming their own webhook_url.
    secret_last4: row ? decrypt(webhookSealKey(deps.secret), row.secret_enc).slice(-4) : null,
  };
}

/**
 * PUT /v1/auth/account/delivery-webhook: the default webhook of the key's environment (test and
 * live each have their own, so a test key can never redirect live events). Its secret also signs
 * this environment's batches that give a webhook_url without a secret, from their creation on.
 */
export async function setDeliveryWebhook(deps: Deps, actor: Actor, input: z.infer<typeof deliveryWebhookInput>) {
  checkWebhookUrl(input.url, { allowPrivate: deps.config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS });
  const sealed = encrypt(webhookSealKey(deps.secret), input.secret);
  await hooksQ.putDeliveryWebhook(deps.db, actor.org_id, actor.environment, input.url, sealed);
  return present({ url: input.url, secret_enc: sealed }, deps);
}

export async function getDeliveryWebhook(deps: Deps, actor: Actor) {
  return present(await hooksQ.getDeliveryWebhook(deps.db, actor.org_id, actor.environment), deps);
}

/** Removes the environment's default webhook and its secret (batches already created keep theirs). */
export async function deleteDeliveryWebhook(deps: Deps, actor: Actor) {
  await hooksQ.deleteDeliveryWebhook(deps.db, actor.org_id, actor.environment);
  return { object: "delivery_webhook", url: null, secret_last4: null, deleted: true };
}
