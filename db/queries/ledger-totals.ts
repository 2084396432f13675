import type { Db } from "../connection.js";

export interface LedgerTotal {
  kind: string;
  environment: "live" | "test";
  entries: number;
  available_micros: number;
  reserved_micros: number;
}

/**
 * The ledger summed by entry kind and environment, across every org: what /metrics exports. One
 * pass over ledger_entries (no index helps a full sum); the caller bounds it with a statement timeout.
 */
export async function ledgerTotals(db: Db): Promise<LedgerTotal[]> {
  const r = await db.raw(
    `SELECT kind, environment, count(*)::bigint AS entries,
            sum(available_delta)::bigint AS available_micros, sum(reserved_delta)::bigint AS reserved_micros
       FROM ledger_entries GROUP BY kind, environment`,
  );
  return r.rows as LedgerTotal[];
}
