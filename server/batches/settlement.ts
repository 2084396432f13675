import type { Knex } from "knex";
import { binaryTextArray } from "../../db/binary-array-param.js";
import type { Db } from "../../db/connection.js";
import { getBatchById, type BatchRow } from "../../db/queries/batches.js";
import type { WorkUnitRow } from "../../db/queries/work-units.js";
import { post } from "../billing/ledger.js";

export interface ItemOutcome {
  idx: number;
  status: "completed" | "failed" | "retry" | "cancelled";
  output: unknown;
  error: { code: string; message: string; provider_status?: number } | null;
  input_tokens: number;
  output_tokens: number;
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** Provider cost of one item at the work unit's locked prices, rounded up to the micro-dollar. */
export function itemCost(
  wu: Pick<WorkUnitRow, "input_per_mtok_micros" | "output_per_mtok_micros">,
  inputTokens: number,
  outputTokens: number,
): number {
  const picos = BigInt(inputTokens) * BigInt(wu.input_per_mtok_micros) + BigInt(outputTokens) * BigInt(wu.output_per_mtok_micros);
  return Number(ceilDiv(picos, 1_000_000n));
}

/**
 * Writes one chunk of a work unit's results and bills the completed ones — in the caller's
 * transaction, holding at least a "key share" lock on the batch row (so no cancel or expiry can run
 * meanwhile, while other work units' chunks can). Only items still `processing` on this work unit
 * are touched, so a re-run after a crash writes and bills nothing twice; the ledger posting key is
 * derived from the rows actually changed, which can change only once.
 */
export async function applyOutcomes(
  trx: Db,
  batch: Pick<BatchRow, "id">,
  wu: WorkUnitRow,
  outcomes: ItemOutcome[],
): Promise<{ completed: number; failed: number; retry: number; cancelled: number }> {
  if (outcomes.length === 0) return { completed: 0, failed: 0, retry: 0, cancelled: 0 };
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  const idxs = outcomes.map((o) => o.idx);
  const tokens = (o: ItemOutcome, n: number) => (o.status === "completed" ? n : n || null);
  // Outputs and errors go as binary text arrays, each parsed once by its cast (db/binary-array-param.ts).
  // The explicit idx list lets the planner walk the primary key for just this chunk, rather than
  // scan the whole work unit per chunk, and with nested loops off it hashes the chunk once.
  await trx.raw("SET LOCAL enable_nestloop = off");
  const updated = await trx.raw(
    `UPDATE batch_items AS b
        SET status = v.status, output = v.output::json, error = v.error::jsonb, input_tokens = v.it, output_tokens = v.ot,
            cost_micros = v.cost, settled = (v.status = 'completed'),
            finished_at = CASE WHEN v.status = 'retry' THEN NULL ELSE now() END
       FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::bigint[]) AS v(idx, status, output, error, it, ot, cost)
      WHERE b.batch_id = ? AND b.idx = ANY(?::int[]) AND b.idx = v.idx AND b.work_unit_id = ? AND b.status = 'processing'
      RETURNING b.idx, b.status, b.cost_micros`,
    // (Typed for knex, whose bindings don't list arrays with nulls or Buffers; pg sends both.)
    [
      idxs,
      outcomes.map((o) => o.status),
      binaryTextArray(outcomes.map((o) => json(o.output))),
      binaryTextArray(outcomes.map((o) => json(o.error))),
      outcomes.map((o) => tokens(o, o.input_tokens)),
      outcomes.map((o) => tokens(o, o.output_tokens)),
      outcomes.map((o) => (o.status === "completed" ? itemCost(wu, o.input_tokens, o.output_tokens) : null)),
      batch.id,
      idxs,
      wu.id,
    ] as Knex.RawBinding[],
  );
  const changed = updated.rows as { idx: number; status: string; cost_micros: number | null }[];
  const tally = { completed: 0, failed: 0, retry: 0, cancelled: 0 };
  let cost = 0;
  let firstIdx = Number.MAX_SAFE_INTEGER;
  for (const r of changed) {
    tally[r.status as keyof typeof tally]++;
    if (r.status === "completed") {
      cost += r.cost_micros ?? 0;
      firstIdx = Math.min(firstIdx, r.idx);
    }
  }
  if (cost > 0) await settle(trx, batch.id, `settle:${wu.id}:${firstIdx}`, cost);
  return tally;
}

/**
 * Moves `providerCost` plus its fee out of the reservation. The locked total is a ceiling: past
 * it the customer pays nothing more (price protection), and the shortfall is ours.
 *
 * Settlements of one batch take turns on an advisory lock held to commit, then read the row, so
 * each sees what the previous one settled. Not a row lock: two work units' chunks that both hold a
 * key share would, queued behind a cancel waiting for FOR UPDATE, deadlock on the row.
 */
async function settle(trx: Db, batchId: string, postingKey: string, providerCost: number) {
  await trx.raw("SELECT pg_advisory_xact_lock(hashtext(?))", [`settle:${batchId}`]);
  const batch = (await getBatchById(trx, batchId))!;
  const fee = Number(ceilDiv(BigInt(providerCost) * BigInt(batch.fee_rate_bps), 10_000n));
  const remaining = batch.reserved_micros - batch.settled_provider_micros - batch.settled_fee_micros;
  const provider = Math.min(providerCost, remaining);
  const feePart = Math.min(fee, remaining - provider);
  const charge = provider + feePart;
  if (charge <= 0) return;
  const { posted } = await post(trx, {
    org_id: batch.org_id,
    environment: batch.environment,
    kind: "settlement",
    available_delta: 0,
    reserved_delta: -charge,
    posting_key: postingKey,
    batch_id: batch.id,
    description: `Settlement of batch ${batch.id}`,
  });
  if (!posted) return;
  batch.settled_provider_micros += provider;
  batch.settled_fee_micros += feePart;
  await trx("batches").where({ id: batch.id }).update({
    settled_provider_micros: batch.settled_provider_micros,
    settled_fee_micros: batch.settled_fee_micros,
    updated_at: trx.fn.now(),
  });
}

/** Ends the batch's hold: releases what wasn't spent, refunds the fee if the SLA was missed. */
export async function closeReservation(trx: Db, batch: BatchRow, refundFee: boolean): Promise<void> {
  const remaining = batch.reserved_micros - batch.settled_provider_micros - batch.settled_fee_micros;
  if (remaining > 0) {
    await post(trx, {
      org_id: batch.org_id,
      environment: batch.environment,
      kind: "reservation_release",
      available_delta: remaining,
      reserved_delta: -remaining,
      posting_key: `release:${batch.id}`,
      batch_id: batch.id,
      description: `Unused reservation of batch ${batch.id}`,
    });
  }
  let refund = 0;
  if (refundFee && batch.settled_fee_micros > 0) {
    refund = batch.settled_fee_micros;
    await post(trx, {
      org_id: batch.org_id,
      environment: batch.environment,
      kind: "sla_fee_refund",
      available_delta: refund,
      posting_key: `sla_refund:${batch.id}`,
      batch_id: batch.id,
      description: `Service fee refunded: batch ${batch.id} missed its SLA deadline`,
    });
  }
  await trx("batches")
    .where({ id: batch.id })
    .update({
      released_micros: Math.max(0, remaining),
      sla_fee_refund_micros: refund,
      settled_at: trx.fn.now(),
      updated_at: trx.fn.now(),
    });
}
