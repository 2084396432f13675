import type { Db } from "../connection.js";

export interface ApiKeyRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  name: string | null;
  prefix: string;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_valid_until: Date | null;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

export async function insertApiKey(
  db: Db,
  row: Omit<ApiKeyRow, "created_at" | "last_used_at" | "revoked_at" | "previous_secret_hash" | "previous_valid_until">,
): Promise<ApiKeyRow> {
  const [inserted] = await db<ApiKeyRow>("api_keys").insert(row).returning("*");
  return inserted as ApiKeyRow;
}

/** The key a presented secret belongs to: its current secret, or the previous one within its grace period. */
export async function findKeyBySecretHash(db: Db, hash: string): Promise<(ApiKeyRow & { via_previous: boolean }) | undefined> {
  const row = await db<ApiKeyRow>("api_keys")
    .where("secret_hash", hash)
    .orWhere((q) => q.where("previous_secret_hash", hash).andWhere("previous_valid_until", ">", db.fn.now()))
    .first();
  return row ? { ...row, via_previous: row.secret_hash !== hash } : undefined;
}

export async function listKeys(db: Db, orgId: string, environment: "live" | "test"): Promise<ApiKeyRow[]> {
  return db<ApiKeyRow>("api_keys").where({ org_id: orgId, environment }).orderBy("id", "desc");
}

export async function getKey(db: Db, orgId: string, environment: "live" | "test", id: string): Promise<ApiKeyRow | undefined> {
  return db<ApiKeyRow>("api_keys").where({ org_id: orgId, environment, id }).first();
}

export async function rotateKeySecret(db: Db, id: string, newHash: string, newPrefix: string, graceSeconds: number): Promise<ApiKeyRow> {
  const [row] = await db<ApiKeyRow>("api_keys")
    .where({ id })
    .update({
      previous_secret_hash: graceSeconds > 0 ? (db.ref("secret_hash") as unknown as string) : null,
      previous_valid_until: graceSeconds > 0 ? (db.raw("now() + make_interval(secs => ?)", [graceSeconds]) as unknown as Date) : null,
      secret_hash: newHash,
      prefix: newPrefix,
    })
    .returning("*");
  return row as ApiKeyRow;
}

/** The channel API processes LISTEN on to drop cached lookups of a changed key (server/accounts/key-cache.ts). */
export const KEY_CHANGES_CHANNEL = "api_key_changes";

/**
 * Tells every API process that key `id` changed. Call it in the transaction that changes the key's
 * secret, scopes, expiry or revocation: PostgreSQL delivers it only if, and once, that commits.
 */
export async function notifyKeyChanged(db: Db, id: string): Promise<void> {
  await db.raw("SELECT pg_notify(?, ?)", [KEY_CHANGES_CHANNEL, id]);
}

export async function revokeKey(db: Db, id: string): Promise<ApiKeyRow> {
  const [row] = await db<ApiKeyRow>("api_keys")
    .where({ id })
    .update({ revoked_at: db.raw("coalesce(revoked_at, now())") as unknown as Date })
    .returning("*");
  return row as ApiKeyRow;
}

/** Records use at most once a minute per key, so authentication stays a read on the hot path. */
export async function touchKey(db: Db, id: string): Promise<void> {
  await db("api_keys")
    .where({ id })
    .andWhere((q) => q.whereNull("last_used_at").orWhere("last_used_at", "<", db.raw("now() - interval '1 minute'")))
    .update({ last_used_at: db.fn.now() });
}
