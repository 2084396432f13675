import type { Db } from "../../db/connection.js";
import * as ledger from "../../db/queries/ledger.js";
import type { Environment, LedgerKind, LedgerRow } from "../../db/queries/ledger.js";
import { fail } from "../errors.js";
import { newId } from "../ids.js";
import { money } from "../money.js";

export interface Posting {
  org_id: string;
  environment: Environment;
  kind: LedgerKind;
  /** Change to what the org can spend, in micro-dollars (negative = less). */
  available_delta: number;
  /** Change to what is held for running batches. */
  reserved_delta?: number;
  /** Unique per org+environment: posting the same key again returns the first entry and changes nothing. */
  posting_key: string;
  batch_id?: string | null;
  checkout_id?: string | null;
  description?: string | null;
  /** When true the posting fails with insufficient_credits rather than take `available` below zero. */
  require_funds?: boolean;
}

/**
 * Appends one ledger entry and moves the cached balance with it, exactly once per posting key.
 * Runs inside the caller's transaction when given one, so the entry commits with the rows it pays for.
 */
export async function post(db: Db, p: Posting): Promise<{ entry: LedgerRow; posted: boolean }> {
  const run = async (trx: Db) => {
    if (!Number.isSafeInteger(p.available_delta) || !Number.isSafeInteger(p.reserved_delta ?? 0)) {
      throw new Error("ledger amounts must be integer micro-dollars");
    }
    const balance = await ledger.lockBalance(trx, p.org_id, p.environment);
    const existing = await ledger.findByPostingKey(trx, p.org_id, p.environment, p.posting_key);
    if (existing) return { entry: existing, posted: false };
    const available_after = balance.available_micros + p.available_delta;
    const reserved_after = balance.reserved_micros + (p.reserved_delta ?? 0);
    if (p.require_funds && available_after < 0) {
      const shortfall = -available_after;
      throw fail.insufficientCredits(
        `This needs ${money(-p.available_delta).amount} USD of credits but only ${money(balance.available_micros).amount} USD is available.`,
        {
          available: money(balance.available_micros),
          required: money(-p.available_delta),
          shortfall: money(shortfall),
        },
      );
    }
    const entry = await ledger.insertEntry(trx, {
      id: newId("led"),
      org_id: p.org_id,
      environment: p.environment,
      kind: p.kind,
      available_delta: p.available_delta,
      reserved_delta: p.reserved_delta ?? 0,
      available_after,
      reserved_after,
      posting_key: p.posting_key,
      batch_id: p.batch_id ?? null,
      checkout_id: p.checkout_id ?? null,
      description: p.description ?? null,
    });
    return { entry, posted: true };
  };
  return db.isTransaction ? run(db) : db.transaction(run);
}

export interface BalanceView {
  credit_balance: number;
  available: number;
  reserved: number;
}

export async function balanceOf(db: Db, orgId: string, environment: Environment): Promise<BalanceView> {
  const b = await ledger.getBalance(db, orgId, environment);
  return { credit_balance: b.available_micros + b.reserved_micros, available: b.available_micros, reserved: b.reserved_micros };
}
