import type { Db } from "../connection.js";

/** An environment's default delivery webhook: its URL (null: only a signing secret) and sealed secret. */
export interface DeliveryWebhookRow {
  org_id: string;
  environment: "live" | "test";
  url: string | null;
  secret_enc: string;
  created_at: Date;
  updated_at: Date;
}

export async function getDeliveryWebhook(db: Db, orgId: string, environment: "live" | "test"): Promise<DeliveryWebhookRow | undefined> {
  return db<DeliveryWebhookRow>("delivery_webhooks").where({ org_id: orgId, environment }).first();
}

/** Sets the environment's URL and secret, replacing what was there. */
export async function putDeliveryWebhook(
  db: Db,
  orgId: string,
  environment: "live" | "test",
  url: string,
  secretSealed: string,
): Promise<void> {
  await db("delivery_webhooks")
    .insert({ org_id: orgId, environment, url, secret_enc: secretSealed })
    .onConflict(["org_id", "environment"])
    .merge({ url, secret_enc: secretSealed, updated_at: db.fn.now() });
}

export async function deleteDeliveryWebhook(db: Db, orgId: string, environment: "live" | "test"): Promise<void> {
  await db("delivery_webhooks").where({ org_id: orgId, environment }).delete();
}

/**
 * The environment's signing secret, adding `secretSealed` (with no URL) when there is none yet.
 * `created` says whether this call added it — only then may its plaintext be shown. Concurrent
 * callers see one winner: the loser's insert waits on the winner's row and then reads it.
 */
export async function ensureSigningSecret(
  trx: Db,
  orgId: string,
  environment: "live" | "test",
  secretSealed: string,
): Promise<{ secretSealed: string; created: boolean }> {
  const inserted = await trx("delivery_webhooks")
    .insert({ org_id: orgId, environment, url: null, secret_enc: secretSealed })
    .onConflict(["org_id", "environment"])
    .ignore()
    .returning("secret_enc");
  if (inserted.length === 1) return { secretSealed, created: true };
  const row = await getDeliveryWebhook(trx, orgId, environment);
  if (!row) throw new Error("delivery_webhooks row vanished between insert and read");
  return { secretSealed: row.secret_enc, created: false };
}
