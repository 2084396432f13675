import { errors } from "../errors.js";
import { formatRate } from "./fees.js";
import { executionOf, rate4, wholeList, type ExecutionModes } from "./presenters.js";
import type { CatalogSnapshot } from "./store.js";
import type { Lane, LaneMode, Provider } from "./types.js";

interface Reliability {
  success_rate: number;
  p50_turnaround_s: number;
  samples: number;
}

/**
 * A provider's reliability pooled over its lanes. Once any lane has real observations, lanes weigh
 * by their sample counts (so the success rate is the pooled rate and untried priors drop out);
 * before that every lane's prior counts once. The turnaround is the weighted median of the lanes'
 * medians, taking the upper one on a tie so a half-batch, half-realtime provider isn't shown as
 * answering in seconds — `observed_by_mode` keeps the two apart.
 */
export function poolReliability(lanes: Lane[]): Reliability | null {
  if (lanes.length === 0) return null;
  const observed = lanes.filter((l) => l.observed.samples > 0);
  const pool = observed.length > 0 ? observed : lanes;
  const weight = (l: Lane) => (observed.length > 0 ? l.observed.samples : 1);
  const total = pool.reduce((s, l) => s + weight(l), 0);
  const success = pool.reduce((s, l) => s + weight(l) * l.observed.success_rate, 0) / total;
  const sorted = [...pool].sort((a, b) => a.observed.p50_turnaround_s - b.observed.p50_turnaround_s);
  let acc = 0;
  let median = sorted[sorted.length - 1]!.observed.p50_turnaround_s;
  for (const l of sorted) {
    acc += weight(l);
    if (acc > total / 2) {
      median = l.observed.p50_turnaround_s;
      break;
    }
  }
  return {
    success_rate: rate4(success),
    p50_turnaround_s: Math.round(median),
    samples: lanes.reduce((s, l) => s + l.observed.samples, 0),
  };
}

function zdrLanes(lanes: Lane[]): "all" | "some" | "none" {
  const n = lanes.filter((l) => l.privacy.zdr).length;
  return n === 0 ? "none" : n === lanes.length ? "all" : "some";
}

/** One provider directory entry; `lanes` are this provider's lanes from the snapshot. */
export function presentProvider(p: Provider, lanes: Lane[], modes: ExecutionModes) {
  const laneModes = [...new Set(lanes.map((l) => l.mode))];
  const byMode = (mode: LaneMode) => poolReliability(lanes.filter((l) => l.mode === mode));
  return {
    object: "provider" as const,
    slug: p.slug,
    display_name: p.display_name,
    regions: [...p.regions],
    protocols: [...p.protocols],
    planned_protocols: [...p.planned_protocols],
    batch_protocol: p.protocols.find((x) => x !== "realtime") ?? null,
    // The provider's published discount; it applies only where batch_protocol is set.
    batch_discount: formatRate(p.batch_discount_bps, 2),
    privacy: {
      posture: p.privacy.posture,
      // From the lanes, which apply the privacy rules (lanes.ts), rather than a second reading of them.
      no_training: lanes.every((l) => l.privacy.no_training),
      data_collection: lanes.some((l) => l.privacy.data_collection === "allow") ? ("allow" as const) : ("deny" as const),
      // Per lane, not per provider: e.g. azure-openai is zdr in eu only, anthropic batches never.
      zdr_lanes: zdrLanes(lanes),
      notes: p.privacy.notes,
    },
    public: p.public,
    rescue: p.rescue,
    execution: executionOf(modes, p.slug),
    capacity_items_per_hour: Object.fromEntries(laneModes.map((m) => [m, p.capacity_items_per_hour[m] ?? null])),
    models: [...new Set(lanes.map((l) => l.model))],
    lanes: lanes.map((l) => ({ lane_id: l.lane_id, model: l.model, region: l.region, mode: l.mode })),
    observed: poolReliability(lanes),
    observed_by_mode: { batch: byMode("batch"), realtime: byMode("realtime") },
    notes: p.notes,
  };
}

function lanesOf(snap: CatalogSnapshot, slug: string): Lane[] {
  return snap.lanes.filter((l) => l.provider === slug);
}

/** GET /v1/providers, in catalog order. */
export function listProviders(snap: CatalogSnapshot, modes: ExecutionModes) {
  const data = snap.catalog.providers.map((p) => presentProvider(p, lanesOf(snap, p.slug), modes));
  return wholeList(data);
}

export function getProvider(snap: CatalogSnapshot, slug: string, modes: ExecutionModes) {
  const p = snap.providerBySlug.get(slug);
  if (!p) throw errors.notFound("provider");
  return presentProvider(p, lanesOf(snap, slug), modes);
}
