import type { Db } from "../connection.js";

export type Environment = "live" | "test";
export type LedgerKind =
  | "topup"
  | "promo_grant"
  | "reservation"
  | "reservation_release"
  | "settlement"
  | "sla_fee_refund"
  | "refund"
  | "adjustment";

export interface LedgerRow {
  id: string;
  org_id: string;
  environment: Environment;
  kind: LedgerKind;
  available_delta: number;
  reserved_delta: number;
  available_after: number;
  reserved_after: number;
  posting_key: string;
  batch_id: string | null;
  checkout_id: string | null;
  description: string | null;
  created_at: Date;
}

export interface BalanceRow {
  org_id: string;
  environment: Environment;
  available_micros: number;
  reserved_micros: number;
}

/** Locks (creating if needed) the balance row, serialising every posting for one org and environment. */
export async function lockBalance(trx: Db, orgId: string, environment: Environment): Promise<BalanceRow> {
  await trx("balances").insert({ org_id: orgId, environment }).onConflict(["org_id", "environment"]).ignore();
  return trx<BalanceRow>("balances").where({ org_id: orgId, environment }).forUpdate().first() as Promise<BalanceRow>;
}

export async function getBalance(db: Db, orgId: string, environment: Environment): Promise<BalanceRow> {
  const row = await db<BalanceRow>("balances").where({ org_id: orgId, environment }).first();
  return row ?? { org_id: orgId, environment, available_micros: 0, reserved_micros: 0 };
}

export async function findByPostingKey(
  db: Db,
  orgId: string,
  environment: Environment,
  postingKey: string,
): Promise<LedgerRow | undefined> {
  return db<LedgerRow>("ledger_entries").where({ org_id: orgId, environment, posting_key: postingKey }).first();
}

export async function insertEntry(trx: Db, row: Omit<LedgerRow, "created_at">): Promise<LedgerRow> {
  const [entry] = await trx<LedgerRow>("ledger_entries").insert(row).returning("*");
  await trx("balances")
    .where({ org_id: row.org_id, environment: row.environment })
    .update({ available_micros: row.available_after, reserved_micros: row.reserved_after, updated_at: trx.fn.now() });
  return entry as LedgerRow;
}

/** Newest first, keyset-paginated on the time-sortable id. */
export async function listEntries(db: Db, orgId: string, environment: Environment, limit: number, beforeId?: string): Promise<LedgerRow[]> {
  const q = db<LedgerRow>("ledger_entries").where({ org_id: orgId, environment }).orderBy("id", "desc").limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  return q;
}

/** The balance recomputed from the entries alone: the check that the cached row never drifts. */
export async function sumEntries(db: Db, orgId: string, environment: Environment): Promise<{ available: number; reserved: number }> {
  const row = await db("ledger_entries")
    .where({ org_id: orgId, environment })
    .first(db.raw("coalesce(sum(available_delta),0)::bigint AS available"), db.raw("coalesce(sum(reserved_delta),0)::bigint AS reserved"));
  return { available: Number(row?.available ?? 0), reserved: Number(row?.reserved ?? 0) };
}
