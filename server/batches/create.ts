import type { Db, Trx } from "../../db/connection.js";
import { insertItems, type NewBatchItem } from "../../db/queries/batch-items.js";
import * as batchesQ from "../../db/queries/batches.js";
import { insertWorkUnits } from "../../db/queries/work-units.js";
import { getQuote, type QuoteRow } from "../../db/queries/quotes.js";
import type { Actor } from "../accounts/actor.js";
import { post } from "../billing/ledger.js";
import { STANDARD_FEE_BPS } from "../catalog/fees.js";
import type { CatalogSnapshot, CatalogStore } from "../catalog/store.js";
import { SLA_DEADLINE_HOURS, type Lane, type SlaTier } from "../catalog/types.js";
import type { Config } from "../config.js";
import type { ArtifactStore } from "../files/artifact-store.js";
import { errors, fail } from "../errors.js";
import { newId } from "../ids.js";
import type { JobSender } from "../jobs/sender.js";
import { prepareItems, type PreparedItems } from "../quotes/prepare.js";
import { customerExplanation, presentLane, type priceTotals } from "../quotes/pricing.js";
import { itemsFingerprint, liveRoutesFor, presentPriceBlock, resolveConstraints, routeAndPrice } from "../quotes/service.js";
import { loadManifestItems } from "../files/manifest-items.js";
import { emitBatchEvent } from "./events.js";
import { presentBatch } from "./present.js";
import type { CreateBatchRequest } from "./schemas.js";
import { unitLimit } from "./unit-limits.js";
import { requestedWebhook, webhookForBatch, type WebhookTarget } from "./webhook-target.js";

export interface BatchDeps {
  db: Db;
  config: Config;
  catalog: CatalogStore;
  jobs: JobSender;
  secret: Buffer;
  artifacts: ArtifactStore;
  liveRoutes?: () => readonly string[];
}

interface PlanUnit {
  lane_id: string;
  item_indexes: number[];
  fallback_order: string[];
}

interface Plan {
  units: PlanUnit[];
  prices: Record<string, { input_per_mtok_micros: number; output_per_mtok_micros: number }>;
  totals: ReturnType<typeof priceTotals>;
  lanesReport: unknown[];
  explanation: string;
  constraints: Record<string, unknown>;
}

function planFromQuote(quote: QuoteRow, prepared: PreparedItems): Plan {
  if (quote.items_fingerprint !== itemsFingerprint(prepared.items)) {
    throw fail.quoteMismatch("These items differ from the ones quoted; send the quoted items unchanged, or create without quote_id.", {
      quote_id: quote.id,
    });
  }
  const response = quote.response as { quote_lanes: unknown[]; customer_explanation: string };
  return {
    units: quote.plan,
    prices: quote.locked_lanes,
    totals: {
      provider_subtotal: quote.provider_subtotal_micros,
      fee: quote.fee_micros,
      discount: quote.discount_micros,
      total: quote.total_micros,
      fee_rate_bps: quote.fee_rate_bps,
    },
    lanesReport: response.quote_lanes,
    explanation: response.customer_explanation,
    constraints: quote.constraints,
  };
}

/** Routes now; for a volume quote, at prices never above the ones it locked. */
function planNow(
  snapshot: CatalogSnapshot,
  prepared: PreparedItems,
  req: CreateBatchRequest,
  liveRoutes: readonly string[] | null,
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
  const constraints = quote ? (quote.constraints as ReturnType<typeof resolveConstraints>) : resolveConstraints(req, liveRoutes);
  const priced = routeAndPrice(
    snapshot,
    { prepared, constraints, maxPrice: req.max_price, feeRateBps: quote?.fee_rate_bps ?? STANDARD_FEE_BPS },
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

function deadline(tier: SlaTier, from: Date): Date {
  return new Date(from.getTime() + SLA_DEADLINE_HOURS[tier] * 3600_000);
}

/**
 * POST /v1/batches: validates and prices the items (or takes the quote's locked price), then in one
 * transaction reserves the credits, writes the batch, its work units and items, and enqueues the
 * first job — so there is never a batch without its job, or a reservation without its batch.
 */
export async function createBatch(deps: BatchDeps, actor: Actor, req: CreateBatchRequest) {
  const snapshot = await deps.catalog.get();
  const rawItems = req.items ?? (await loadManifestItems(deps.db, actor, req.input_file_id!));
  const prepared = await prepareItems(snapshot, rawItems, { operation: req.operation ?? req.task, model: req.model });
  const requested = requestedWebhook(deps.config, req);

  let quote: QuoteRow | undefined;
  if (req.quote_id) {
    quote = await getQuote(deps.db, actor.org_id, actor.environment, req.quote_id);
    if (!quote) throw errors.notFound("quote");
    if (quote.batch_id)
      throw fail.quoteExpired(`Quote ${quote.id} was already used by batch ${quote.batch_id}.`, { batch_id: quote.batch_id });
    if (quote.expires_at.getTime() <= Date.now())
      throw fail.quoteExpired(`Quote ${quote.id} expired at ${quote.expires_at.toISOString()}; ask for a new quote.`);
  }
  const plan =
    quote && quote.kind !== "volume" ? planFromQuote(quote, prepared) : planNow(snapshot, prepared, req, liveRoutesFor(deps, actor), quote);
  const constraints = plan.constraints as ReturnType<typeof resolveConstraints>;

  const batchId = newId("bat");
  const now = new Date();
  const slaDeadline = deadline(constraints.sla_tier, now);
  let webhook: WebhookTarget | null = null;
  const row = await deps.db.transaction(async (trx) => {
    webhook = requested && (await webhookForBatch(trx, deps.secret, actor, requested));
    if (quote) {
      const claimed = await trx("quotes")
        .where({ id: quote.id })
        .whereNull("batch_id")
        .andWhere("expires_at", ">", trx.fn.now())
        .update({ batch_id: batchId, accepted_at: trx.fn.now() });
      if (claimed !== 1) throw fail.quoteExpired(`Quote ${quote.id} is no longer open.`);
    }
    await post(trx, {
      org_id: actor.org_id,
      environment: actor.environment,
      kind: "reservation",
      available_delta: -plan.totals.total,
      reserved_delta: plan.totals.total,
      posting_key: `reserve:${batchId}`,
      batch_id: batchId,
      require_funds: true,
      description: `Reservation for batch ${batchId}`,
    });
    const batch = await batchesQ.insertBatch(trx, {
      id: batchId,
      org_id: actor.org_id,
      environment: actor.environment,
      status: "pending",
      quote_id: quote?.id ?? null,
      input_file_id: req.input_file_id ?? null,
      item_count: prepared.items.length,
      routing_mode: constraints.routing_mode,
      sla_tier: constraints.sla_tier,
      privacy_tier: constraints.privacy_tier,
      allowed_regions: constraints.allowed_regions,
      constraints: plan.constraints,
      fee_rate_bps: plan.totals.fee_rate_bps,
      quoted_subtotal_micros: plan.totals.provider_subtotal,
      quoted_fee_micros: plan.totals.fee,
      quoted_total_micros: plan.totals.total,
      reserved_micros: plan.totals.total,
      pricing_estimate: presentPriceBlock(plan.totals),
      lanes_report: plan.lanesReport,
      customer_explanation: plan.explanation,
      webhook_url: webhook?.url ?? null,
      webhook_secret_enc: webhook?.secretSealed ?? null,
      metadata: req.metadata ?? {},
      estimated_input_tokens: prepared.tokens.input,
      estimated_output_tokens: prepared.tokens.output,
      sla_deadline: slaDeadline,
    });
    await writeWorkUnits(trx, batchId, snapshot, plan, prepared, actor.environment);
    await batchesQ.addRouteEvent(trx, batchId, "routed", {
      quote_id: quote?.id ?? null,
      work_units: plan.units.map((u) => ({ lane_id: u.lane_id, item_count: u.item_indexes.length, fallback_order: u.fallback_order })),
    });
    await deps.jobs.send(trx, "dispatch", { batch_id: batchId });
    await deps.jobs.send(trx, "expire", { batch_id: batchId }, { startAfter: slaDeadline });
    await emitBatchEvent(trx, deps, batch, "batch.submitted");
    return batch;
  });
  const presented = await presentBatch(deps.db, row);
  const newSecret = (webhook as WebhookTarget | null)?.newSecret;
  // Shown once: the idempotency record keeps this answer without it (CREATE_BATCH_SECRET_FIELDS).
  return newSecret ? { ...presented, webhook: { ...presented.webhook, secret: newSecret } } : presented;
}

/** Where the create answer (`{batch}`) carries a secret shown once: a webhook signing secret made for it. */
export const CREATE_BATCH_SECRET_FIELDS = ["batch.webhook.secret"] as const;

async function writeWorkUnits(
  trx: Trx,
  batchId: string,
  snapshot: CatalogSnapshot,
  plan: Plan,
  prepared: PreparedItems,
  environment: "live" | "test",
) {
  const units: Parameters<typeof insertWorkUnits>[1] = [];
  const itemUnits: { idxs: number[]; wuId: string; laneId: string }[] = [];
  for (const unit of plan.units) {
    const lane = snapshot.laneById.get(unit.lane_id);
    const price = plan.prices[unit.lane_id];
    if (!lane || !price) throw new Error(`lane ${unit.lane_id} of the plan is not in the catalog`);
    const limit = unitLimit(lane.protocol);
    for (let i = 0; i < unit.item_indexes.length; i += limit) {
      const wuId = newId("wu");
      const idxs = unit.item_indexes.slice(i, i + limit);
      units.push({
        id: wuId,
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
      itemUnits.push({ idxs, wuId, laneId: lane.lane_id });
    }
  }
  await insertWorkUnits(trx, units);
  const stored = await insertItems(
    trx,
    (function* (): Generator<NewBatchItem> {
      for (const { idxs, wuId, laneId } of itemUnits) {
        for (const idx of idxs) {
          const r = prepared.routing[idx]!;
          yield {
            batch_id: batchId,
            idx,
            customer_item_id: r.customer_item_id,
            operation: r.operation,
            models: r.models,
            item: prepared.items[idx]! as unknown as Record<string, unknown>,
            work_unit_id: wuId,
            lane_id: laneId,
            status: "queued",
          };
        }
      }
    })(),
  );
  if (stored !== prepared.items.length) throw new Error(`stored ${stored} of the batch's ${prepared.items.length} items`);
}
