import type { Catalog, Lane, LaneMode, LanePrivacy, Protocol, Provider, Region, SlaTier } from "./types.js";

/** SLA tiers a lane of each mode can meet: a batch window can't promise the 1-hour priority tier. */
export const SLA_TIERS_BY_MODE: Readonly<Record<LaneMode, readonly SlaTier[]>> = {
  batch: ["flex", "standard"],
  realtime: ["flex", "standard", "priority"],
};

const BPS = 10_000;

export const laneId = (provider: string, model: string, region: Region, mode: LaneMode) => `${provider}/${model}/${region}/${mode}`;

/** "0.15" USD per Mtok → 150000 micro-dollars per Mtok, exactly (no float parsing). */
export function usdToMicros(usd: string): number {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(usd);
  if (!m) throw new RangeError(`not a USD decimal with at most 6 places: "${usd}"`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? "").padEnd(6, "0"));
}

/** Applies a discount in basis points, rounding half up to a whole micro-dollar. */
export function applyDiscountBps(micros: number, bps: number): number {
  return Math.floor((micros * (BPS - bps) + BPS / 2) / BPS);
}

function lanePrivacy(p: Provider, region: Region, mode: LaneMode, protocol: Protocol): LanePrivacy {
  const { posture, zdr_lanes: zl } = p.privacy;
  let zdr =
    posture === "zdr" || (zl !== undefined && (!zl.regions || zl.regions.includes(region)) && (!zl.modes || zl.modes.includes(mode)));
  // Anthropic batches are outside ZDR whatever the provider's posture says (parse-catalog rejects the
  // edit too; this guards catalogs built in code).
  if (protocol === "anthropic-batch") zdr = false;
  return { zdr, no_training: posture !== "standard", data_collection: posture === "standard" ? "allow" : "deny" };
}

function laneModes(p: Provider): { mode: LaneMode; protocol: Protocol }[] {
  const out: { mode: LaneMode; protocol: Protocol }[] = [];
  const batch = p.protocols.find((x) => x === "openai-batch" || x === "anthropic-batch");
  if (batch) out.push({ mode: "batch", protocol: batch });
  if (p.protocols.includes("realtime")) out.push({ mode: "realtime", protocol: "realtime" });
  return out;
}

/**
 * One lane per (provider, model, region, mode), in catalog order. Observed figures start as the
 * provider's priors (samples 0) and every lane starts healthy; callers overlay live statistics.
 */
export function expandLanes(catalog: Pick<Catalog, "providers" | "models">): Lane[] {
  const providers = new Map(catalog.providers.map((p) => [p.slug, p]));
  const lanes: Lane[] = [];
  for (const model of catalog.models) {
    for (const offering of model.offerings) {
      const p = providers.get(offering.provider);
      if (!p) throw new Error(`model ${model.slug} is offered by unknown provider ${offering.provider}`);
      const listIn = usdToMicros(offering.input_per_mtok);
      const listOut = usdToMicros(offering.output_per_mtok);
      for (const region of offering.regions ?? p.regions) {
        for (const { mode, protocol } of laneModes(p)) {
          const bps = mode === "batch" ? p.batch_discount_bps : 0;
          const prior = p.observed_priors[mode];
          const capacity = p.capacity_items_per_hour[mode];
          if (!prior || !capacity) throw new Error(`provider ${p.slug} lacks ${mode} capacity or priors`);
          lanes.push({
            lane_id: laneId(p.slug, model.slug, region, mode),
            provider: p.slug,
            model: model.slug,
            region,
            mode,
            protocol,
            operations: [...model.operations],
            context_window: model.context_window,
            max_output_tokens: model.max_output_tokens,
            input_per_mtok_micros: applyDiscountBps(listIn, bps),
            output_per_mtok_micros: applyDiscountBps(listOut, bps),
            batch_discount_bps: bps,
            list_input_per_mtok_micros: listIn,
            list_output_per_mtok_micros: listOut,
            privacy: lanePrivacy(p, region, mode, protocol),
            tool_support: model.tool_support,
            hosted_tools: [...(offering.hosted_tools ?? model.hosted_tools)],
            public: p.public,
            rescue: p.rescue,
            sla_tiers: [...SLA_TIERS_BY_MODE[mode]],
            capacity_items_per_hour: capacity,
            observed: { ...prior, backlog_items: 0, samples: 0 },
            healthy: true,
            served_as: offering.served_as ?? model.slug,
            ...(mode === "batch" && p.batch_limits ? { batch_limits: { ...p.batch_limits } } : {}),
          });
        }
      }
    }
  }
  return lanes;
}
