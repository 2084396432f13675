import { expect } from "vitest";
import type { Db } from "../../db/connection.js";
import { sumEntries } from "../../db/queries/ledger.js";
import { call } from "./server.js";
import { waitFor } from "./wait.js";

/** Shared helpers of the test/batches-*.test.ts files. */

export const TERMINAL_STATES = ["completed", "failed", "canceled", "cancelled", "expired"];

export interface ItemOpts {
  model?: string;
  prefix?: string;
  /** Extra text appended to the prompt of item i (e.g. a `[simulate:…]` trigger), or undefined. */
  text?: (i: number) => string | undefined;
  max_output_tokens?: number;
}

/** `n` responses items, deterministic, with ids `${prefix}-${i}`. */
export function makeItems(n: number, opts: ItemOpts = {}) {
  const prefix = opts.prefix ?? "item";
  return Array.from({ length: n }, (_, i) => ({
    customer_item_id: `${prefix}-${i}`,
    operation: "responses",
    model: opts.model ?? "gpt-4o-mini",
    ...(opts.max_output_tokens ? { max_output_tokens: opts.max_output_tokens } : {}),
    input: {
      messages: [
        { role: "user", content: `Classify ticket ${prefix} #${i}: the invoice was charged twice. ${opts.text?.(i) ?? ""}`.trim() },
      ],
    },
  }));
}

let keySeq = 0;
/** A fresh Idempotency-Key per call. */
export const idemKey = (label = "k") => `test-${label}-${Date.now()}-${++keySeq}`;

export async function createBatch(base: string, key: string, body: unknown, idempotencyKey = idemKey("create")) {
  return call(base, "POST", "/v1/batches", { key, body, headers: { "Idempotency-Key": idempotencyKey } });
}

/** Creates and expects 202; returns the batch object. */
export async function mustCreate(base: string, key: string, body: unknown) {
  const res = await createBatch(base, key, body);
  if (res.status !== 202) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.batch as { id: string; [k: string]: any };
}

/** Polls GET /v1/batches/{id} until it is terminal; returns the `{batch, id, status, state}` body. */
export async function untilTerminal(base: string, key: string, id: string, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const res = await call(base, "GET", `/v1/batches/${id}`, { key });
      if (res.status !== 200) throw new Error(`GET batch: ${res.status} ${JSON.stringify(res.body)}`);
      return TERMINAL_STATES.includes(res.body.state) ? res.body : undefined;
    },
    timeoutMs,
    `batch ${id} to end`,
    150,
  ); // gently: the per-key rate limit (600/min) is shared with the rest of the test
}

export const micros = (m: { amount: string }) => Math.round(Number(m.amount) * 1e6);

/** Every results page, following next_cursor. */
export async function allResults(base: string, key: string, id: string, query = "limit=1000") {
  const out: any[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const res: Awaited<ReturnType<typeof call>> = await call(
      base,
      "GET",
      `/v1/batches/${id}/results?${query}${cursor ? `&cursor=${cursor}` : ""}`,
      { key },
    );
    expect(res.status).toBe(200);
    out.push(...res.body.results);
    if (!res.body.has_more) {
      expect(res.body.next_cursor).toBeNull();
      return out;
    }
    cursor = res.body.next_cursor;
  }
  throw new Error("results pagination did not end");
}

/** The cached balance row equals the sum of the ledger entries (design.md §5). */
export async function expectLedgerBalanced(db: Db, orgId: string, environment: "live" | "test") {
  const sums = await sumEntries(db, orgId, environment);
  const row = await db("balances").where({ org_id: orgId, environment }).first();
  expect({ available: Number(row?.available_micros ?? 0), reserved: Number(row?.reserved_micros ?? 0) }).toEqual(sums);
  return sums;
}

/**
 * The money of one ended batch, from the rows: each item billed at most once, the settlements equal
 * the billed item costs plus fee (capped by the reservation), and the reservation fully closed.
 */
export async function expectBatchSettled(db: Db, batchId: string) {
  const batch = await db("batches").where({ id: batchId }).first();
  const entries = await db("ledger_entries").where({ batch_id: batchId }).orderBy("id");
  const byKind = (k: string) => entries.filter((e: any) => e.kind === k);
  const sum = (rows: any[], f: string) => rows.reduce((s, r) => s + Number(r[f]), 0);

  const reservations = byKind("reservation");
  expect(reservations).toHaveLength(1);
  expect(Number(reservations[0].reserved_delta)).toBe(Number(batch.reserved_micros));
  expect(Number(reservations[0].available_delta)).toBe(-Number(batch.reserved_micros));

  const settled = 0 - sum(byKind("settlement"), "reserved_delta") + 0;
  expect(sum(byKind("settlement"), "available_delta")).toBe(0);
  expect(settled).toBe(Number(batch.settled_provider_micros) + Number(batch.settled_fee_micros));
  expect(settled).toBeLessThanOrEqual(Number(batch.reserved_micros));

  const items = await db("batch_items").where({ batch_id: batchId });
  expect(items.filter((i: any) => ["queued", "processing", "retry"].includes(i.status))).toEqual([]);
  // Only completed items carry a cost, and a settled flag.
  for (const it of items) {
    if (it.status === "completed") expect(Number(it.cost_micros)).toBeGreaterThan(0);
    else expect(it.cost_micros).toBeNull();
    expect(it.settled).toBe(it.status === "completed");
  }
  const itemCosts = items.filter((i: any) => i.status === "completed").reduce((s: number, i: any) => s + Number(i.cost_micros), 0);
  const capped = settled === Number(batch.reserved_micros);
  if (!capped) {
    expect(Number(batch.settled_provider_micros)).toBe(itemCosts);
    // The fee is charged per settlement chunk, rounded up: at most one micro-dollar per chunk over the rate.
    const fee = Number(batch.settled_fee_micros);
    const exact = (itemCosts * batch.fee_rate_bps) / 10_000;
    expect(fee).toBeGreaterThanOrEqual(Math.floor(exact));
    expect(fee).toBeLessThanOrEqual(Math.ceil(exact) + byKind("settlement").length);
  } else {
    expect(Number(batch.settled_provider_micros)).toBeLessThanOrEqual(itemCosts);
  }

  const released = sum(byKind("reservation_release"), "available_delta");
  expect(byKind("reservation_release").length).toBeLessThanOrEqual(1);
  expect(released).toBe(Number(batch.reserved_micros) - settled);
  expect(Number(batch.released_micros)).toBe(released);
  // The reservation is closed: what it held went to settlements or back to available.
  expect(sum(entries, "reserved_delta")).toBe(0);
  expect(batch.settled_at).not.toBeNull();
  return { batch, entries, items, settled, released, itemCosts, refund: sum(byKind("sla_fee_refund"), "available_delta") };
}
