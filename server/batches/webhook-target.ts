import type { Config } from "../config.js";
import { deriveKey, encrypt } from "../crypto.js";
import { checkWebhookUrl } from "../webhooks/url-guard.js";
import type { CreateBatchRequest } from "./schemas.js";

export interface WebhookTarget {
  url: string;
  /** The batch's own secret, sealed; null means "sign with the org's default secret". */
  secretSealed: string | null;
}

/** A batch's webhook from `webhook: {url, secret}` or flow B's `delivery: {webhook_url}`. */
export function resolveWebhook(deps: { config: Config; secret: Buffer }, req: Pick<CreateBatchRequest, "webhook" | "delivery">): WebhookTarget | null {
  const url = req.webhook?.url ?? req.delivery?.webhook_url;
  if (!url) return null;
  checkWebhookUrl(url, { allowPrivate: deps.config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS });
  const secret = req.webhook?.secret;
  return { url, secretSealed: secret ? encrypt(deriveKey(deps.secret, "webhook-secret"), secret) : null };
}
