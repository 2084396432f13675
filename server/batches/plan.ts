import type { Db, Trx } from "../../db/connection.js";
import { insertItems, type NewBatchItem } from "../../db/queries/batch-items.js";
import { addRouteEvent } from "../../db/queries/batches.js";
import { getQuote, type QuoteRow } from "../../db/queries/quotes.js";
import type { Actor } from "../accounts/actor.js";
import type { CatalogStore } from "../catalog/store.js";
import type { Config } from "../config.js";
import type { ArtifactStore } from "../files/artifact-store.js";
import type { JobSender } from "../jobs/sender.js";
import { insertWorkUnits } from "../../db/queries/work-units.js";
import { STANDARD_FEE_BPS } from "../catalog/fees.js";
import type { CatalogSnapshot } from "../catalog/store.js";
import { SLA_DEADLINE_HOURS, type Lane, type SlaTier } from "../catalog/types.js";
import { post } from "../billing/ledger.js";
import { errors, fail } from "../errors.js";
import { newId } from "../ids.js";
import type { PreparedItems } from "../quotes/prepare.js";
import { customerExplanation, presentLane, type priceTotals } from "../quotes/pricing.js";
import { presentPriceBlock, routeAndPrice, type resolveConstraints } from "../quotes/service.js";
import { unitLimit } from "./unit-limits.js";

export interface BatchDeps {
  db: Db;
  config: Config;
  catalog: CatalogStore;
  jobs: JobSender;
  secret: Buffer;
  artifacts: ArtifactStore;
  liveRoutes?: () => readonly string[];
}

/** The quote a create names, if it can still be taken (404 when it isn't the caller's). */
export async function openQuote(db: Db, actor: Actor, quoteId: string | undefined): Promise<QuoteRow | undefined> {
  if (!quoteId) return undefined;
  const quote = await getQuote(db, actor.org_id, actor.environment, quoteId);
  if (!quote) throw errors.notFound("quote");
  if (quote.batch_id)
    throw fail.quoteExpired(`Quote ${quote.id} was already used by batch ${quote.batch_id}.`, { batch_id: quote.batch_id });
  if (quote.expires_at.getTime() <= Date.now())
    throw fail.quoteExpired(`Quote ${quote.id} expired at ${quote.expires_at.toISOString()}; ask for a new quote.`);
  return quote;
}

export function deadline(tier: SlaTier, from: Date): Date {
  return new Date(from.getTime() + SLA_DEADLINE_HOURS[tier] * 3600_000);
}

/** The batch's reservation (402 insufficient_credits when the balance can't cover it); posted once per batch. */
export async function reserveCredits(trx: Trx, owner: Pick<Actor, "org_id" | "environment">, batchId: string, total: number) {
  await post(trx, {
    org_id: owner.org_id,
    environment: owner.environment,
    kind: "reservation",
    available_delta: -total,
    reserved_delta: total,
    posting_key: `reserve:${batchId}`,
    batch_id: batchId,
    require_funds: true,
    description: `Reservation for batch ${batchId}`,
  });
}

/** Takes the quote for this batch in the create transaction; a quote taken meanwhile → quote_expired. */
export async function claimQuote(trx: Trx, quote: QuoteRow, batchId: string): Promise<void> {
  const claimed = await trx("quotes")
    .where({ id: quote.id })
    .whereNull("batch_id")
    .andWhere("expires_at", ">", trx.fn.now())
    .update({ batch_id: batchId, accepted_at: trx.fn.now() });
  if (claimed !== 1) throw fail.quoteExpired(`Quote ${quote.id} is no longer open.`);
}

/** Where each item goes and at what price: from a quote's locked plan, or routed now. */
export interface Plan {
  units: { lane_id: string; item_indexes: number[]; fallback_order: string[] }[];
  prices: Record<string, { input_per_mtok_micros: number; output_per_mtok_micros: number }>;
  totals: ReturnType<typeof priceTotals>;
  lanesReport: unknown[];
  explanation: string;
  constraints: Record<string, unknown>;
}

/** A quote's locked plan, for the items it was made for (`fingerprint`: itemsFingerprint of them). */
export function planFromQuote(quote: QuoteRow, fingerprint: string): Plan {
  if (quote.items_fingerprint !== fingerprint) {
    throw fail.quoteMismatch("These items differ from the ones quoted; send the quoted items unchanged, or create without quote_id.", {
      quote_id: quote.id,
    });
  }
  const response = quote.response as { quote_lanes: unknown[]; customer_explanation: string };
  return {
    units: quote.plan,
    prices: quote.locked_lanes,
    totals: quoteTotals(quote),
    lanesReport: response.quote_lanes,
    explanation: response.customer_explanation,
    constraints: quote.constraints,
  };
}

/** The totals a quote locked. */
export function quoteTotals(quote: QuoteRow): Plan["totals"] {
  return {
    provider_subtotal: quote.provider_subtotal_micros,
    fee: quote.fee_micros,
    discount: quote.discount_micros,
    total: quote.total_micros,
    fee_rate_bps: quote.fee_rate_bps,
  };
}

/** The batch columns a plan fills: its price (reserved in full), lanes, explanation and constraints. */
export function pricedColumns(plan: Plan) {
  return {
    fee_rate_bps: plan.totals.fee_rate_bps,
    quoted_subtotal_micros: plan.totals.provider_subtotal,
    quoted_fee_micros: plan.totals.fee,
    quoted_total_micros: plan.totals.total,
    reserved_micros: plan.totals.total,
    pricing_estimate: presentPriceBlock(plan.totals),
    lanes_report: plan.lanesReport,
    customer_explanation: plan.explanation,
    constraints: plan.constraints,
  };
}

/**
 * The same columns for a batch with no price yet (validating) or none ever (every request rejected):
 * nothing quoted or reserved, the constraints it was asked with.
 */
export function unpricedColumns(constraints: Plan["constraints"]) {
  return {
    fee_rate_bps: 0,
    quoted_subtotal_micros: 0,
    quoted_fee_micros: 0,
    quoted_total_micros: 0,
    reserved_micros: 0,
    pricing_estimate: {},
    lanes_report: [],
    customer_explanation: null,
    constraints: { ...constraints },
  };
}

/** The receipt's `routed` event: where the plan sent the items. */
export async function addRoutedEvent(trx: Trx, batchId: string, quoteId: string | null, plan: Plan): Promise<void> {
  await addRouteEvent(trx, batchId, "routed", {
    quote_id: quoteId,
    work_units: plan.units.map((u) => ({ lane_id: u.lane_id, item_count: u.item_indexes.length, fallback_order: u.fallback_order })),
  });
}

/**
 * Routes now under `constraints` (the request's, resolved; or a volume quote's); for a volume quote,
 * at prices never above the ones it locked.
 */
export function planNow(
  snapshot: CatalogSnapshot,
  prepared: Pick<PreparedItems, "routing" | "tokens">,
  constraints: ReturnType<typeof resolveConstraints>,
  maxPrice: string | undefined,
  quote?: QuoteRow,
): Plan {
  let lanes: Lane[] = snapshot.lanes;
  if (quote) {
    lanes = lanes.map((l) => {
      const locked = quote.locked_lanes[l.lane_id];
      return locked
        ? {
            ...l,
            input_per_mtok_micros: Math.min(l.input_per_mtok_micros, locked.input_per_mtok_micros),
            output_per_mtok_micros: Math.min(l.output_per_mtok_micros, locked.output_per_mtok_micros),
          }
        : l;
    });
  }
  const priced = routeAndPrice(
    snapshot,
    {
      prepared: { items: [], sampled: false, ...prepared },
      constraints,
      maxPrice,
      feeRateBps: quote?.fee_rate_bps ?? STANDARD_FEE_BPS,
    },
    lanes,
  );
  return {
    units: priced.result.work_units.map((u) => ({ lane_id: u.lane_id, item_indexes: u.item_indexes, fallback_order: u.fallback_order })),
    prices: Object.fromEntries(priced.result.lanes.map((l) => [l.lane_id, l.unit_price])),
    totals: priced.totals,
    lanesReport: priced.result.lanes.map(presentLane),
    explanation: customerExplanation(priced.result, snapshot),
    constraints: { ...priced.constraints },
  };
}

/** An item's place in the plan: its work unit and lane. */
export type Placement = (idx: number) => { work_unit_id: string; lane_id: string };

/**
 * Writes the plan's work units (each lane's items cut at the protocol's unit size) in the caller's
 * transaction, and answers where each item went; the items themselves are the caller's to write.
 */
export async function writeWorkUnits(
  trx: Trx,
  batchId: string,
  snapshot: CatalogSnapshot,
  plan: Plan,
  environment: "live" | "test",
  itemCount: number,
): Promise<Placement> {
  const units: Parameters<typeof insertWorkUnits>[1] = [];
  // Item index → unit position: 4 bytes an item, so a million-item plan costs 4 MB here.
  const unitOf = new Int32Array(itemCount).fill(-1);
  for (const unit of plan.units) {
    const lane = snapshot.laneById.get(unit.lane_id);
    const price = plan.prices[unit.lane_id];
    if (!lane || !price) throw new Error(`lane ${unit.lane_id} of the plan is not in the catalog`);
    const limit = unitLimit(lane.protocol);
    for (let i = 0; i < unit.item_indexes.length; i += limit) {
      const idxs = unit.item_indexes.slice(i, i + limit);
      for (const idx of idxs) unitOf[idx] = units.length;
      units.push({
        id: newId("wu"),
        batch_id: batchId,
        lane_id: lane.lane_id,
        provider: lane.provider,
        model: lane.model,
        attempt: 1,
        status: "pending",
        fallback_order: unit.fallback_order,
        input_per_mtok_micros: price.input_per_mtok_micros,
        output_per_mtok_micros: price.output_per_mtok_micros,
        // A live key's work only ever runs for real (its lanes were checked against live_routes).
        execution: environment === "live" ? "live" : "simulated",
        item_count: idxs.length,
      });
    }
  }
  const missing = unitOf.indexOf(-1);
  if (missing !== -1) throw new Error(`item ${missing} of batch ${batchId} has no work unit in the plan`);
  await insertWorkUnits(trx, units);
  return (idx) => {
    const u = units[unitOf[idx]!]!;
    return { work_unit_id: u.id, lane_id: u.lane_id };
  };
}

/** Writes items in the caller's transaction, checking that every one of the batch's items was. */
export async function writeItems(trx: Trx, expected: number, rows: Iterable<NewBatchItem> | AsyncIterable<NewBatchItem>) {
  const stored = await insertItems(trx, rows);
  if (stored !== expected) throw new Error(`stored ${stored} of the batch's ${expected} items`);
}
