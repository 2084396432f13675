import { z } from "zod";
import type { Db } from "../../db/connection.js";
import type { Actor } from "../accounts/actor.js";
import type { CatalogSnapshot, CatalogStore } from "../catalog/store.js";
import { money } from "../money.js";

export const optimizationQuery = z.object({
  import_provider: z.enum(["openai", "anthropic"]).default("openai").describe("The provider whose list batch prices are the baseline."),
  window: z.enum(["24h", "7d", "30d"]).default("30d").describe("How far back to look."),
});

const WINDOW_HOURS = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30 } as const;

interface Row {
  day: Date;
  model: string;
  items: number;
  input_tokens: number;
  output_tokens: number;
  provider_cost: number;
  fee: number;
}

/** The import provider's batch price for a model (its list price less its batch discount), if it sells it. */
function baselinePrice(snapshot: CatalogSnapshot, provider: string, model: string) {
  const lanes = snapshot.lanes.filter((l) => l.provider === provider && l.model === model);
  const lane = lanes.find((l) => l.mode === "batch") ?? lanes[0];
  if (!lane) return null;
  const keep = 10_000 - (snapshot.providerBySlug.get(provider)?.batch_discount_bps ?? 0);
  return {
    input: Math.round((lane.list_input_per_mtok_micros * keep) / 10_000),
    output: Math.round((lane.list_output_per_mtok_micros * keep) / 10_000),
  };
}

/**
 * What the org's settled work would have cost at the import provider's list batch prices (for the
 * model each item asked for) against what it cost here, by day — from the settled items themselves.
 */
export async function optimizationReport(deps: { db: Db; catalog: CatalogStore }, actor: Actor, q: z.infer<typeof optimizationQuery>) {
  const snapshot = await deps.catalog.get();
  const rows = (await deps
    .db("batch_items as bi")
    .join("batches as b", "b.id", "bi.batch_id")
    .where({ "b.org_id": actor.org_id, "b.environment": actor.environment, "bi.status": "completed", "bi.settled": true })
    .andWhere("bi.finished_at", ">=", deps.db.raw("now() - make_interval(hours => ?)", [WINDOW_HOURS[q.window]]))
    .groupByRaw("1, 2")
    .select(
      deps.db.raw("date_trunc('day', bi.finished_at) AS day"),
      deps.db.raw("bi.models->>0 AS model"),
      deps.db.raw("count(*)::int AS items"),
      deps.db.raw("coalesce(sum(bi.input_tokens),0)::bigint AS input_tokens"),
      deps.db.raw("coalesce(sum(bi.output_tokens),0)::bigint AS output_tokens"),
      deps.db.raw("coalesce(sum(bi.cost_micros),0)::bigint AS provider_cost"),
      deps.db.raw("coalesce(sum(ceil(bi.cost_micros * b.fee_rate_bps / 10000.0)),0)::bigint AS fee"),
    )) as Row[];

  const days = new Map<string, { baseline: number; optimized: number; items: number }>();
  const notComparable = new Map<string, number>();
  let baselineTotal = 0;
  let optimizedTotal = 0;
  let comparableItems = 0;
  for (const r of rows) {
    const price = baselinePrice(snapshot, q.import_provider, r.model);
    if (!price) {
      notComparable.set(r.model, (notComparable.get(r.model) ?? 0) + r.items);
      continue;
    }
    const baseline = Math.ceil((r.input_tokens * price.input + r.output_tokens * price.output) / 1_000_000);
    const optimized = r.provider_cost + r.fee;
    const key = r.day.toISOString().slice(0, 10);
    const d = days.get(key) ?? { baseline: 0, optimized: 0, items: 0 };
    d.baseline += baseline;
    d.optimized += optimized;
    d.items += r.items;
    days.set(key, d);
    baselineTotal += baseline;
    optimizedTotal += optimized;
    comparableItems += r.items;
  }
  const fallbacks = await deps
    .db("route_events as e")
    .join("batches as b", "b.id", "e.batch_id")
    .where({ "b.org_id": actor.org_id, "b.environment": actor.environment, "e.kind": "fallback" })
    .andWhere("e.at", ">=", deps.db.raw("now() - make_interval(hours => ?)", [WINDOW_HOURS[q.window]]))
    .count<{ n: number }[]>("* as n");
  const batchCount = await deps
    .db("batches")
    .where({ org_id: actor.org_id, environment: actor.environment })
    .andWhere("created_at", ">=", deps.db.raw("now() - make_interval(hours => ?)", [WINDOW_HOURS[q.window]]))
    .count<{ n: number }[]>("* as n");
  const trend = [...days.entries()].sort(([a], [b]) => a.localeCompare(b));
  return {
    object: "optimization_report",
    import_provider: q.import_provider,
    window: q.window,
    comparable_items: comparableItems,
    not_comparable: [...notComparable.entries()].map(([model, items]) => ({
      model,
      items,
      reason: `${q.import_provider} does not sell ${model}`,
    })),
    baseline_cost: money(baselineTotal),
    optimized_cost: money(optimizedTotal),
    savings_realized: money(baselineTotal - optimizedTotal),
    savings_rate: baselineTotal > 0 ? Math.round(((baselineTotal - optimizedTotal) / baselineTotal) * 10_000) / 10_000 : null,
    baseline_cost_trend: trend.map(([day, d]) => ({ day, cost: money(d.baseline), items: d.items })),
    optimized_cost_trend: trend.map(([day, d]) => ({ day, cost: money(d.optimized), items: d.items })),
    fallback_frequency: { fallbacks: Number(fallbacks[0]?.n ?? 0), batches: Number(batchCount[0]?.n ?? 0) },
    // These need the learning loop's quality signals (customer feedback, verification), a later step.
    provider_quality_drift: null,
    verification_failures: null,
    recommended_next_route_change: null,
  };
}
