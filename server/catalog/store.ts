import type { Db } from "../../db/connection.js";
import { readDocuments, readLaneStats, upsertDocument, type LaneStatsRow } from "../../db/queries/catalog.js";
import type { CustomEndpoint } from "../providers/endpoints.js";
import { withCustomEndpoints } from "./custom-endpoints.js";
import { expandLanes } from "./lanes.js";
import { loadCatalogFromDisk } from "./load-catalog.js";
import { parseCatalog, type RawCatalogFiles } from "./parse-catalog.js";
import type { Catalog, Lane, Model, Provider } from "./types.js";

const DOCUMENTS: Record<string, keyof RawCatalogFiles> = {
  meta: "meta.json",
  providers: "providers.json",
  models: "models.json",
  route_policies: "route-policies.json",
  workflow_products: "workflow-products.json",
};

/**
 * Loads the seed files (validated) into the database. The files in db/seeds/catalog are the source
 * of truth: edit them and restart; only documents that changed are rewritten.
 */
export async function syncSeedCatalog(db: Db, dir?: string): Promise<string[]> {
  const catalog = await loadCatalogFromDisk(dir);
  const changed: string[] = [];
  for (const name of Object.keys(DOCUMENTS)) {
    if (await upsertDocument(db, name, catalog[name as keyof Catalog])) changed.push(name);
  }
  return changed;
}

/** One consistent view of the catalog: lanes carry observed statistics where work has run. */
export interface CatalogSnapshot {
  catalog: Catalog;
  lanes: Lane[];
  laneById: Map<string, Lane>;
  modelBySlug: Map<string, Model>;
  providerBySlug: Map<string, Provider>;
  loadedAt: Date;
}

function withObserved(lane: Lane, stats: LaneStatsRow | undefined): Lane {
  if (!stats) return lane;
  const samples = stats.items_succeeded + stats.items_failed;
  return {
    ...lane,
    healthy: stats.healthy,
    observed: {
      success_rate: samples > 0 ? stats.items_succeeded / samples : lane.observed.success_rate,
      p50_turnaround_s: stats.turnaround_p50_s ?? lane.observed.p50_turnaround_s,
      backlog_items: stats.backlog_items,
      samples,
    },
  };
}

/** Builds a snapshot from the stored documents (validated again: a bad DB edit fails loudly). */
export async function loadSnapshot(db: Db, custom: readonly CustomEndpoint[] = []): Promise<CatalogSnapshot> {
  const [docs, stats] = await Promise.all([readDocuments(db), readLaneStats(db)]);
  const raw = Object.fromEntries(Object.entries(DOCUMENTS).map(([name, file]) => [file, docs[name]])) as unknown as RawCatalogFiles;
  const catalog = withCustomEndpoints(parseCatalog(raw), custom);
  const statsByLane = new Map(stats.map((s) => [s.lane_id, s]));
  const lanes = expandLanes(catalog).map((l) => withObserved(l, statsByLane.get(l.lane_id)));
  return {
    catalog,
    lanes,
    laneById: new Map(lanes.map((l) => [l.lane_id, l])),
    modelBySlug: new Map(catalog.models.map((m) => [m.slug, m])),
    providerBySlug: new Map(catalog.providers.map((p) => [p.slug, p])),
    loadedAt: new Date(),
  };
}

/** A short-lived cache of the snapshot, so a quote doesn't re-read the catalog; one load at a time. */
export class CatalogStore {
  private current: CatalogSnapshot | null = null;
  private loading: Promise<CatalogSnapshot> | null = null;

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 15_000,
    /** The operator's custom endpoints, added as providers with real-time lanes. */
    private readonly custom: readonly CustomEndpoint[] = [],
  ) {}

  async get(): Promise<CatalogSnapshot> {
    if (this.current && Date.now() - this.current.loadedAt.getTime() < this.ttlMs) return this.current;
    this.loading ??= loadSnapshot(this.db, this.custom).then(
      (s) => {
        this.current = s;
        this.loading = null;
        return s;
      },
      (e) => {
        this.loading = null;
        throw e;
      },
    );
    return this.loading;
  }

  /** Drop the cache (after the learning loop or an operator changes what routing should see). */
  invalidate(): void {
    this.current = null;
  }
}
