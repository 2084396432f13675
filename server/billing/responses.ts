import { z } from "zod";
import type { LedgerKind } from "../../db/queries/ledger.js";
import { listOf, moneySchema, timestamp } from "../responses.js";

/** Success bodies of the billing routes (server/billing/present.ts). */

// Typed both ways: a kind added to (or dropped from) the ledger fails typecheck here until listed.
const KINDS: { [K in LedgerKind]: K } = {
  topup: "topup",
  promo_grant: "promo_grant",
  reservation: "reservation",
  reservation_release: "reservation_release",
  settlement: "settlement",
  sla_fee_refund: "sla_fee_refund",
  refund: "refund",
  adjustment: "adjustment",
};

/** One ledger entry: `amount` is the change to the spendable (available) balance. */
export const ledgerEntryObject = z.object({
  id: z.string().describe("led_…"),
  object: z.literal("ledger_entry"),
  kind: z.enum(KINDS),
  amount: moneySchema.describe("Change to the available balance (negative for a reservation)."),
  reserved_change: moneySchema.describe("Change to the reserved balance."),
  balance_after: moneySchema.describe("Available balance after the entry."),
  reserved_after: moneySchema.describe("Reserved balance after the entry."),
  batch_id: z.string().nullable(),
  checkout_id: z.string().nullable(),
  description: z.string().nullable(),
  created_at: timestamp(),
});

/** GET /v1/billing/ledger, newest first; append-only. */
export const ledgerPage = listOf(ledgerEntryObject);
