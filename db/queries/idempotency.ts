import type { Db } from "../connection.js";

export interface IdempotencyRow {
  scope: string;
  key: string;
  fingerprint: string;
  state: "in_flight" | "done";
  response_status: number | null;
  response_body: string | null;
  response_headers: Record<string, string> | null;
  created_at: Date;
  locked_until: Date | null;
  expired: boolean;
}

const LOCK_SECONDS = 300;
/** How long a stored response is replayed for its key (the contract says 24 h). */
export const IDEMPOTENCY_TTL_HOURS = 24;

/** Claims the key for a first request; false when a record already exists. */
export async function claim(db: Db, scope: string, key: string, fingerprint: string): Promise<boolean> {
  const rows = await db("idempotency_keys")
    .insert({ scope, key, fingerprint, state: "in_flight", locked_until: db.raw(`now() + interval '${LOCK_SECONDS} seconds'`) })
    .onConflict(["scope", "key"])
    .ignore()
    .returning("key");
  return rows.length === 1;
}

export async function find(db: Db, scope: string, key: string, ttlHours: number): Promise<IdempotencyRow | undefined> {
  return db("idempotency_keys")
    .where({ scope, key })
    .first(
      "*",
      db.raw("created_at < now() - make_interval(hours => ?) AS expired", [ttlHours]),
      db.raw("(locked_until < now()) AS lock_lapsed"),
    );
}

/** Takes over an in-flight record whose owner died (its lock lapsed); true if this caller won it. */
export async function takeOver(db: Db, scope: string, key: string): Promise<boolean> {
  const n = await db("idempotency_keys")
    .where({ scope, key, state: "in_flight" })
    .andWhere("locked_until", "<", db.fn.now())
    .update({ locked_until: db.raw(`now() + interval '${LOCK_SECONDS} seconds'`) });
  return n === 1;
}

export async function complete(
  db: Db,
  scope: string,
  key: string,
  status: number,
  body: string,
  headers: Record<string, string>,
): Promise<void> {
  await db("idempotency_keys")
    .where({ scope, key })
    .update({ state: "done", response_status: status, response_body: body, response_headers: JSON.stringify(headers), locked_until: null });
}

export async function release(db: Db, scope: string, key: string): Promise<void> {
  await db("idempotency_keys").where({ scope, key, state: "in_flight" }).delete();
}

export async function removeExpired(db: Db, scope: string, key: string, ttlHours: number): Promise<void> {
  await db("idempotency_keys")
    .where({ scope, key })
    .andWhere("created_at", "<", db.raw("now() - make_interval(hours => ?)", [ttlHours]))
    .delete();
}

export async function purgeExpired(db: Db, ttlHours: number): Promise<number> {
  return db("idempotency_keys")
    .where("created_at", "<", db.raw("now() - make_interval(hours => ?)", [ttlHours]))
    .delete();
}
