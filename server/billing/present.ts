import type { LedgerRow } from "../../db/queries/ledger.js";
import { money } from "../money.js";

/** Public JSON of a ledger entry: `amount` is the change to the spendable (available) balance. */
export function presentLedgerEntry(e: LedgerRow) {
  return {
    id: e.id,
    object: "ledger_entry",
    kind: e.kind,
    amount: money(e.available_delta),
    reserved_change: money(e.reserved_delta),
    balance_after: money(e.available_after),
    reserved_after: money(e.reserved_after),
    batch_id: e.batch_id,
    checkout_id: e.checkout_id,
    description: e.description,
    created_at: e.created_at.toISOString(),
  };
}
