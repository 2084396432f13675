import { expect } from "vitest";
import type { Db } from "../../../db/connection.js";
import { allResults, expectBatchSettled, expectLedgerBalanced, micros } from "../../helpers/batches.js";

/**
 * What every chaos scenario ends with, whatever was killed or failed on the way: each item has
 * exactly one result, nothing was billed twice, and the org's stored balance is what its ledger
 * entries add up to.
 */
export async function expectBatchWhole(opts: {
  db: Db;
  base: string;
  key: string;
  orgId: string;
  environment: "live" | "test";
  batchId: string;
  customerItemIds: string[];
}) {
  const { db, base, key, batchId } = opts;
  // Exactly one result per item of the manifest, in manifest order, none left open.
  const results = await allResults(base, key, batchId);
  expect(results.map((r) => r.customer_item_id)).toEqual(opts.customerItemIds);
  const open = results.filter((r) => r.status !== "completed" && r.status !== "failed");
  expect(open).toEqual([]);

  // Billed once: no posting key of the org appears twice, one reservation, and the settlements are
  // exactly the completed items' actual costs (plus the fee) — what the results page says they cost.
  const dupPostings = await db("ledger_entries")
    .where({ org_id: opts.orgId })
    .groupBy("environment", "posting_key")
    .havingRaw("count(*) > 1")
    .select("posting_key");
  expect(dupPostings).toEqual([]);
  const money = await expectBatchSettled(db, batchId);
  const completed = results.filter((r) => r.status === "completed");
  expect(Number(money.batch.settled_provider_micros)).toBe(completed.reduce((s, r) => s + micros(r.cost), 0));
  expect(money.itemCosts).toBe(Number(money.batch.settled_provider_micros));

  // The stored balance recomputed from the org's ledger entries.
  await expectLedgerBalanced(db, opts.orgId, opts.environment);
  return { results, completed, money };
}
