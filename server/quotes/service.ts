import { createHash } from "node:crypto";
import type { Db } from "../../db/connection.js";
import * as quotesQ from "../../db/queries/quotes.js";
import type { Actor } from "../accounts/actor.js";
import { balanceOf } from "../billing/ledger.js";
import { STANDARD_FEE_BPS, WORKFLOW_FEE_BPS, formatRate } from "../catalog/fees.js";
import { findWorkflowProduct } from "../catalog/parse-catalog.js";
import { loadManifestItems } from "../files/manifest-items.js";
import type { CatalogSnapshot, CatalogStore } from "../catalog/store.js";
import type { Operation, RoutePolicy, WorkflowProduct } from "../catalog/types.js";
import { type AppError, errors, fail } from "../errors.js";
import { newId } from "../ids.js";
import { money, parseUsd } from "../money.js";
import { route } from "../routing/route.js";
import type { RoutingConstraints, RoutingResult } from "../routing/types.js";
import { prepareItems, prepareVolume, type PreparedItems } from "./prepare.js";
import { customerExplanation, presentLane, priceTotals, routeDecisionPreview, subtotalCeiling } from "./pricing.js";
import type { QuoteRequest } from "./schemas.js";
import { itemsFromInputs } from "./workflow-items.js";

export const QUOTE_TTL_MS = 10 * 60 * 1000;

export interface QuoteDeps {
  db: Db;
  catalog: CatalogStore;
  /** The `provider/protocol` pairs that run for real here (live keys may use only those). */
  liveRoutes?: () => readonly string[];
}

/** What a key's environment may run on: live keys only on configured providers, test keys anywhere (simulated). */
export const liveRoutesFor = (deps: Pick<QuoteDeps, "liveRoutes">, actor: Pick<Actor, "environment">): readonly string[] | null =>
  actor.environment === "live" ? [...(deps.liveRoutes?.() ?? [])] : null;

type ConstraintInput = Pick<
  QuoteRequest,
  "routing_mode" | "sla_tier" | "privacy_tier" | "allowed_regions" | "provider_preferences" | "max_price"
>;

/** The request's constraints with the contract's defaults filled in. */
export function resolveConstraints(
  req: ConstraintInput,
  liveRoutes: readonly string[] | null,
  policy?: RoutePolicy,
): Omit<RoutingConstraints, "max_price_micros"> {
  const prefs = { ...(policy?.provider_preferences ?? {}), ...(req.provider_preferences ?? {}) };
  return {
    routing_mode: req.routing_mode ?? policy?.routing_mode ?? "cheapest",
    sla_tier: req.sla_tier ?? policy?.sla_tier ?? "standard",
    privacy_tier: req.privacy_tier ?? policy?.privacy_tier ?? "standard",
    allowed_regions: req.allowed_regions ?? policy?.allowed_regions ?? ["global"],
    provider_preferences: { ...prefs, allow_fallbacks: prefs.allow_fallbacks ?? true },
    live_routes: liveRoutes,
  };
}

/**
 * sha256 of the validated items, in order: a batch created from a quote must carry the same items.
 * Validation puts each item's own fields in schema order, so only key order inside `input` counts.
 */
export function itemsFingerprint(items: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(items)).digest("hex");
}

/** An item no lane can serve, as the 422's `details.items[]` names it: `index` is its place in the manifest. */
export interface UnroutableDetail {
  index: number;
  customer_item_id: string;
  reasons: { code: string; message: string }[];
}

/** 422 no_eligible_lane naming the first (up to 100) of `count` items no lane can serve. */
export function unroutableError(count: number, items: UnroutableDetail[]): AppError {
  const first = items[0];
  return fail.noEligibleLane(
    `${count} item(s) can't be served under these constraints${first ? `; e.g. ${first.customer_item_id}: ${first.reasons.map((r) => r.message).join(" ")}` : ""}`,
    { unroutable_count: count, items },
  );
}

function noEligibleLane(result: RoutingResult): AppError {
  const items = result.unroutable.slice(0, 100).map((u) => ({
    index: u.index,
    customer_item_id: u.customer_item_id,
    reasons: [...new Map(u.reasons.map((r) => [r.code, { code: r.code, message: r.message }])).values()],
  }));
  return unroutableError(result.unroutable.length, items);
}

export interface PriceInput {
  kind: "items" | "volume" | "workflow";
  prepared: PreparedItems;
  constraints: Omit<RoutingConstraints, "max_price_micros">;
  maxPrice?: string;
  feeRateBps: number;
  workflow?: WorkflowProduct;
  metadata?: Record<string, string>;
  rawItems?: unknown[];
}

export interface PricedRoute {
  result: RoutingResult;
  totals: ReturnType<typeof priceTotals>;
  constraints: RoutingConstraints;
  maxTotal: number | null;
}

/** Routes prepared items under the constraints and prices them; 422 when anything can't be served. */
export function routeAndPrice(
  snapshot: CatalogSnapshot,
  p: Pick<PriceInput, "prepared" | "constraints" | "maxPrice" | "feeRateBps">,
  lanes = snapshot.lanes,
): PricedRoute {
  const maxTotal = p.maxPrice !== undefined ? parseUsd(p.maxPrice) : null;
  const constraints: RoutingConstraints = {
    ...p.constraints,
    max_price_micros: maxTotal === null ? null : subtotalCeiling(maxTotal, p.feeRateBps),
  };
  const result = route(p.prepared.routing, constraints, lanes);
  if (result.unroutable.length > 0) throw noEligibleLane(result);
  const subtotal = result.work_units.reduce((n, u) => n + u.estimated_cost_micros, 0);
  const totals = priceTotals(subtotal, p.feeRateBps);
  if (maxTotal !== null && totals.total > maxTotal) {
    throw fail.noEligibleLane(
      `The cheapest route costs ${money(totals.total).amount} USD, above max_price ${money(maxTotal).amount} USD.`,
      {
        reason: "price_above_max",
        max_price: money(maxTotal),
        total: money(totals.total),
        items: [],
        unroutable_count: 0,
      },
    );
  }
  return { result, totals, constraints, maxTotal };
}

/** The public pricing block of a quote or batch. */
export function presentPriceBlock(totals: PricedRoute["totals"]) {
  return {
    provider_subtotal: money(totals.provider_subtotal),
    batchrouter_fee: money(totals.fee),
    fee_rate: formatRate(totals.fee_rate_bps),
    customer_discount: money(totals.discount),
    total: money(totals.total),
    currency: "usd",
  };
}

/** Routes, prices, stores and presents one quote. */
async function buildQuote(deps: QuoteDeps, actor: Actor, snapshot: CatalogSnapshot, p: PriceInput) {
  const { result, totals, constraints, maxTotal } = routeAndPrice(snapshot, p);
  const balance = await balanceOf(deps.db, actor.org_id, actor.environment);
  const id = newId("qlock");
  const now = new Date();
  const expiresAt = new Date(now.getTime() + QUOTE_TTL_MS);
  const response = {
    quote_id: id,
    id,
    object: "quote",
    status: "open",
    kind: p.kind,
    workflow: p.workflow?.slug ?? null,
    environment: actor.environment,
    expires_at: expiresAt.toISOString(),
    created_at: now.toISOString(),
    item_count: p.prepared.routing.length,
    estimated_tokens: {
      input: p.prepared.tokens.input,
      output: p.prepared.tokens.output,
      method: p.prepared.sampled ? "sampled" : "exact",
    },
    routing_mode: constraints.routing_mode,
    sla_tier: constraints.sla_tier,
    privacy_tier: constraints.privacy_tier,
    allowed_regions: constraints.allowed_regions,
    provider_preferences: constraints.provider_preferences,
    max_price: maxTotal === null ? null : money(maxTotal),
    price_protection_policy: "lock_total",
    pricing_estimate: presentPriceBlock(totals),
    funding_preview: {
      available: money(balance.available),
      reserved: money(balance.reserved),
      quote_total: money(totals.total),
      shortfall: money(Math.max(0, totals.total - balance.available)),
      can_fund: balance.available >= totals.total,
    },
    quote_lanes: result.lanes.map(presentLane),
    work_units: result.work_units.map((u) => ({
      lane_id: u.lane_id,
      provider: u.provider,
      model: u.model,
      region: u.region,
      mode: u.mode,
      item_count: u.item_count,
      estimated_cost: money(u.estimated_cost_micros),
      fallback_order: u.fallback_order,
    })),
    route_decision_preview: routeDecisionPreview(result, snapshot),
    customer_explanation: customerExplanation(result, snapshot),
    metadata: p.metadata ?? {},
  };
  const locked = Object.fromEntries(
    result.lanes
      .filter((l) => l.selected || result.work_units.some((u) => u.fallback_order.includes(l.lane_id)))
      .map((l) => [l.lane_id, l.unit_price]),
  );
  await quotesQ.insertQuote(deps.db, {
    id,
    org_id: actor.org_id,
    environment: actor.environment,
    kind: p.kind,
    workflow_slug: p.workflow?.slug ?? null,
    expires_at: expiresAt,
    items_fingerprint: p.rawItems ? itemsFingerprint(p.prepared.items) : null,
    item_count: p.prepared.routing.length,
    provider_subtotal_micros: totals.provider_subtotal,
    fee_micros: totals.fee,
    discount_micros: totals.discount,
    total_micros: totals.total,
    fee_rate_bps: p.feeRateBps,
    constraints: { ...constraints },
    locked_lanes: locked,
    plan: p.rawItems
      ? result.work_units.map((u) => ({
          lane_id: u.lane_id,
          item_indexes: u.item_indexes,
          fallback_order: u.fallback_order,
          estimated_cost_micros: u.estimated_cost_micros,
        }))
      : [],
    response,
  });
  return response;
}

/** POST /v1/quotes/model (and /v1/batches/quote): price a manifest, inline or by volume. */
export async function quoteManifest(deps: QuoteDeps, actor: Actor, req: QuoteRequest) {
  const snapshot = await deps.catalog.get();
  const operation: Operation | undefined = req.operation ?? req.task;
  let prepared: PreparedItems;
  const rawItems = req.items ?? (req.input_file_id ? await loadManifestItems(deps.db, actor, req.input_file_id) : undefined);
  if (rawItems) {
    prepared = await prepareItems(snapshot, rawItems, { operation, model: req.model });
  } else {
    const models = req.models ?? [req.model!];
    prepared = await prepareVolume(snapshot, models, req.estimated_items!, operation ?? "responses", req.sample_items);
  }
  return buildQuote(deps, actor, snapshot, {
    kind: rawItems ? "items" : "volume",
    prepared,
    constraints: resolveConstraints(req, liveRoutesFor(deps, actor)),
    maxPrice: req.max_price,
    feeRateBps: STANDARD_FEE_BPS,
    metadata: req.metadata,
    rawItems,
  });
}

/** POST /v1/quotes/workflow: a workflow product's preset and posture fill in the manifest. */
export async function quoteWorkflow(
  deps: QuoteDeps,
  actor: Actor,
  req: { workflow: string; estimated_items?: number; items?: unknown[]; inputs?: unknown[] },
) {
  const snapshot = await deps.catalog.get();
  const product = findWorkflowProduct(snapshot.catalog.workflow_products, req.workflow);
  if (!product) throw errors.notFound(`workflow product "${req.workflow}"`);
  const preset = product.preset_manifest;
  const policy = snapshot.catalog.route_policies.find((r) => r.name === product.routing_posture);
  const defaults = { operation: preset.operation, model: preset.model };
  let prepared: PreparedItems;
  let rawItems: unknown[] | undefined;
  if (req.estimated_items !== undefined) {
    prepared = await prepareVolume(snapshot, [preset.model, ...preset.model_options], req.estimated_items, preset.operation, undefined);
  } else {
    rawItems = req.inputs ? itemsFromInputs(product, req.inputs) : req.items!;
    prepared = await prepareItems(snapshot, rawItems, defaults, req.inputs ? "inputs" : "items");
  }
  return buildQuote(deps, actor, snapshot, {
    kind: "workflow",
    prepared,
    constraints: resolveConstraints(
      {
        routing_mode: preset.routing_mode,
        sla_tier: preset.sla_tier,
        privacy_tier: preset.privacy_tier,
        allowed_regions: preset.allowed_regions,
      },
      liveRoutesFor(deps, actor),
      policy,
    ),
    feeRateBps: WORKFLOW_FEE_BPS,
    workflow: product,
    rawItems,
  });
}

/** GET /v1/quotes/{id}: the stored quote with its current status. */
export async function getQuote(deps: QuoteDeps, actor: Actor, id: string) {
  const row = await quotesQ.getQuote(deps.db, actor.org_id, actor.environment, id);
  if (!row) throw errors.notFound("quote");
  const status = row.batch_id ? "accepted" : row.expires_at.getTime() <= Date.now() ? "expired" : "open";
  return { ...row.response, status, batch_id: row.batch_id };
}
