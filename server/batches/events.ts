import type { Db } from "../../db/connection.js";
import { itemCounts } from "../../db/queries/batch-items.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { publicBaseUrl, type Config } from "../config.js";
import type { ArtifactStore } from "../files/artifact-store.js";
import type { JobSender } from "../jobs/sender.js";
import { notifyBatchWebhook, type WebhookEventType } from "../webhooks/events.js";

/**
 * How long the download links in a webhook event work: the event may be retried for ~24 h (8
 * attempts with backoff), and its receiver should still be able to follow the link after the last.
 */
export const EVENT_LINK_TTL_S = 48 * 3600;

/** What an event needs to link a batch's files: the store that signs them and the API's public base. */
export interface EventDeps {
  jobs: JobSender;
  artifacts: ArtifactStore;
  config: Config;
}

/** Sends `type` to the batch's webhook (if any), in the caller's transaction. */
export async function emitBatchEvent(trx: Db, deps: EventDeps, batch: BatchRow, type: WebhookEventType): Promise<void> {
  await notifyBatchWebhook(trx, deps.jobs, type, {
    batch_id: batch.id,
    facts: async () => {
      const counts = await itemCounts(trx, batch.id);
      return {
        batch_id: batch.id,
        status: batch.status,
        items_total: batch.item_count,
        items_completed: counts.completed ?? 0,
        items_failed: (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.expired ?? 0),
        cost_micros: batch.settled_provider_micros + batch.settled_fee_micros,
        output_file_url: await fileLink(deps, batch, "output"),
        error_file_url: await fileLink(deps, batch, "errors"),
      };
    },
  });
}

/** A `batch.progress` event, at most every 30 s per batch (the slot is claimed atomically). */
export const noteProgress = (trx: Db, deps: EventDeps, batch: BatchRow) => emitBatchEvent(trx, deps, batch, "batch.progress");

/** An absolute, signed download link to one of the batch's files, or null before it exists. */
async function fileLink(deps: EventDeps, batch: BatchRow, kind: "output" | "errors"): Promise<string | null> {
  const artifact = batch.artifacts?.[kind];
  if (!artifact) return null;
  const { url } = await deps.artifacts.signedUrl(artifact.storage_key, {
    expiresInSeconds: EVENT_LINK_TTL_S,
    filename: `${batch.id}-${kind}.jsonl`,
  });
  // The local store signs paths; S3 presigns absolute URLs.
  return url.startsWith("/") ? `${publicBaseUrl(deps.config)}${url}` : url;
}
