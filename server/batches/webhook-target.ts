import { randomBytes } from "node:crypto";
import type { Db } from "../../db/connection.js";
import { ensureSigningSecret, getDeliveryWebhook } from "../../db/queries/delivery-webhooks.js";
import type { Actor } from "../accounts/actor.js";
import { webhookSealKey } from "../accounts/delivery-webhook.js";
import type { Config } from "../config.js";
import { encrypt } from "../crypto.js";
import { checkWebhookUrl } from "../webhooks/url-guard.js";
import type { CreateBatchRequest } from "./schemas.js";

/** A batch's own webhook as requested: `webhook: {url, secret?}` or flow B's `delivery: {webhook_url}`. */
export interface RequestedWebhook {
  url: string;
  secret?: string;
}

/** The webhook a batch stores: the URL and the secret that signs its events, sealed. */
export interface WebhookTarget {
  url: string;
  secretSealed: string;
  /** The environment's signing secret, created by this request: shown once, in the create answer. */
  newSecret?: string;
}

/** The batch's webhook from the request, its URL checked (https, not private) before anything is written. */
export function requestedWebhook(config: Config, req: Pick<CreateBatchRequest, "webhook" | "delivery">): RequestedWebhook | null {
  const url = req.webhook?.url ?? req.delivery?.webhook_url;
  if (!url) return null;
  checkWebhookUrl(url, { allowPrivate: config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS });
  return req.webhook?.secret ? { url, secret: req.webhook.secret } : { url };
}

/**
 * Every delivery is signed, so a webhook given without a secret takes the environment's: its
 * default webhook's secret, else a new one made here — in the create transaction, so a refused
 * create leaves none behind that nobody has seen — and shown once in the create answer. The sealed
 * secret is kept on the batch, so its events stay signed even if the default webhook is removed.
 */
export async function webhookForBatch(trx: Db, platformSecret: Buffer, actor: Actor, requested: RequestedWebhook): Promise<WebhookTarget> {
  const key = webhookSealKey(platformSecret);
  if (requested.secret) return { url: requested.url, secretSealed: encrypt(key, requested.secret) };
  const existing = await getDeliveryWebhook(trx, actor.org_id, actor.environment);
  if (existing) return { url: requested.url, secretSealed: existing.secret_enc };
  const fresh = `whsec_${randomBytes(24).toString("base64url")}`;
  const ensured = await ensureSigningSecret(trx, actor.org_id, actor.environment, encrypt(key, fresh));
  return ensured.created
    ? { url: requested.url, secretSealed: ensured.secretSealed, newSecret: fresh }
    : { url: requested.url, secretSealed: ensured.secretSealed };
}

/**
 * The create answer with the signing secret made for this batch, if one was: shown this once (the
 * idempotency record keeps the answer without it, CREATE_BATCH_SECRET_FIELDS).
 */
export function withShownSecret<T extends { webhook: unknown }>(presented: T, webhook: WebhookTarget | null): T {
  const secret = webhook?.newSecret;
  return secret ? { ...presented, webhook: { ...(presented.webhook as object), secret } } : presented;
}
