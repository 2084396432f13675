import type { Db } from "../db/connection.js";
import type { RequestItem } from "../db/queries/batch-items.js";
import type { WorkUnitRow } from "../db/queries/work-units.js";
import type { ManifestItem } from "../server/manifest/item-schema.js";
import type { CatalogStore } from "../server/catalog/store.js";
import type { Lane, Operation } from "../server/catalog/types.js";
import type { Config } from "../server/config.js";
import type { JobSender } from "../server/jobs/sender.js";
import type { Logger } from "../server/logger.js";
import type { ArtifactStore } from "../server/files/artifact-store.js";
import { adapterFor, type ProviderCredentials } from "./providers/registry.js";
import { laneOf } from "../server/batches/fallback.js";
import type { ProviderFailure } from "../server/batches/unit-outcomes.js";
import { type ProviderAdapter, ProviderError, type SubmitRequest, type WorkUnitItem } from "./providers/types.js";

/** What every batch job handler needs. */
export interface BatchWorkerDeps {
  db: Db;
  config: Config;
  logger: Logger;
  jobs: JobSender;
  catalog: CatalogStore;
  simulator: ProviderAdapter;
  credentials: ProviderCredentials;
  artifacts: ArtifactStore;
  secret: Buffer;
  /** Base of the jittered retry backoff for failed items (ms); small in tests. */
  retryBaseMs: number;
}

export async function adapterForUnit(
  deps: BatchWorkerDeps,
  wu: WorkUnitRow,
  environment: "live" | "test",
): Promise<{ lane: Lane; adapter: ProviderAdapter }> {
  const lane = await laneOf(deps, wu.lane_id);
  return { lane, adapter: adapterFor(lane, { environment, credentials: deps.credentials }, deps.simulator) };
}

/** The provider-facing request for a work unit: the model is the lane's, whatever the item asked. */
export function submitRequest(wu: WorkUnitRow, lane: Lane, items: RequestItem[]): SubmitRequest {
  const list: WorkUnitItem[] = items.map((it) => ({
    item_id: `${it.batch_id}:${it.idx}`,
    customer_item_id: it.customer_item_id,
    operation: it.operation as Operation,
    model: wu.model,
    item: it.item as unknown as ManifestItem,
    attempt: Math.max(1, it.attempts),
  }));
  return { work_unit_id: wu.id, lane, items: list };
}

export const idxOfItemId = (itemId: string): number => Number(itemId.slice(itemId.lastIndexOf(":") + 1));

/**
 * Poll sooner for young jobs and back off for old ones: a quarter of the age, 100 ms to 30 s. A
 * provider job is seen done at most a quarter of its age late (a fast one within 100 ms). The floor
 * holds only for a unit's first 0.4 s; then the wait grows by a quarter each poll (the 30 s cap at
 * two minutes of age), so a long job costs about four polls more than with the old 250 ms floor.
 */
export function pollDelayMs(submittedAt: Date | null, now = Date.now()): number {
  const age = submittedAt ? now - submittedAt.getTime() : 0;
  return Math.min(30_000, Math.max(100, Math.floor(age / 4)));
}

/** An adapter's error as the plain facts the domain decides on (server/batches/unit-outcomes.ts). */
export function failureOf(err: unknown): ProviderFailure {
  const p = err instanceof ProviderError ? err : undefined;
  return {
    code: p?.code ?? "provider_error",
    message: err instanceof Error ? err.message : String(err),
    ...(p?.status !== undefined ? { status: p.status } : {}),
    ...(p?.retryAfterMs !== undefined ? { retryAfterMs: p.retryAfterMs } : {}),
    retryable: p?.retryable ?? false,
  };
}
