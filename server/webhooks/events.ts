import type { Db } from "../../db/connection.js";
import { insertDelivery } from "../../db/queries/webhook-deliveries.js";
import { webhookEventSchema } from "../catalog/types.js";
import { newId } from "../ids.js";
import type { JobSender } from "../jobs/sender.js";
import { formatUsd, type Micros } from "../money.js";

export const WEBHOOK_EVENT_TYPES = webhookEventSchema.options;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `batch.progress` goes out at most this often per batch (api.md §6). */
export const PROGRESS_INTERVAL_MS = 30_000;

/** The batch facts an event reports, as the batch service knows them when the event happens. */
export interface BatchEventFacts {
  batch_id: string;
  status: string;
  items_total: number;
  items_completed: number;
  items_failed: number;
  /** Settled cost so far (provider cost + fee), in micro-dollars. */
  cost_micros: Micros;
  output_file_url: string | null;
  error_file_url: string | null;
}

/** The webhook body (api.md §6); `event` repeats `type` for receivers written against either name. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  event: WebhookEventType;
  created: number;
  batch_id: string;
  data: {
    batch_id: string;
    status: string;
    items_total: number;
    items_completed: number;
    items_failed: number;
    cost_usd: string;
    output_file_url: string | null;
    error_file_url: string | null;
  };
}

/** A new event for a batch, with a fresh `evt_` id (also the delivery id and `webhook-id`). */
export function buildEvent(type: WebhookEventType, batch: BatchEventFacts, now: Date = new Date()): WebhookEvent {
  return {
    id: newId("evt"),
    type,
    event: type,
    created: Math.floor(now.getTime() / 1000),
    batch_id: batch.batch_id,
    data: {
      batch_id: batch.batch_id,
      status: batch.status,
      items_total: batch.items_total,
      items_completed: batch.items_completed,
      items_failed: batch.items_failed,
      cost_usd: formatUsd(batch.cost_micros),
      output_file_url: batch.output_file_url,
      error_file_url: batch.error_file_url,
    },
  };
}

/** Whether a progress event may go out now, the last one having gone at `lastAt` (null: never). */
export function shouldSendProgress(lastAt: Date | null, now: Date): boolean {
  return lastAt === null || now.getTime() - lastAt.getTime() >= PROGRESS_INTERVAL_MS;
}

/**
 * Takes the batch's progress slot atomically (sets `batches.last_progress_event_at`) when the
 * last progress event is at least 30 s old; false when another worker sent one more recently.
 * Workers updating the same batch in parallel then send one progress event, not one each.
 */
export async function claimProgressSlot(trx: Db, batchId: string, now: Date = new Date()): Promise<boolean> {
  const cutoff = new Date(now.getTime() - PROGRESS_INTERVAL_MS);
  const updated = await trx("batches")
    .where({ id: batchId })
    .andWhere((q) => q.whereNull("last_progress_event_at").orWhere("last_progress_event_at", "<=", cutoff))
    .update({ last_progress_event_at: now });
  return updated === 1;
}

export interface EnqueueEventInput {
  org_id: string;
  /** The receiver, checked with checkWebhookUrl when it was configured (and again at delivery). */
  url: string;
  /** The receiver's secret as stored (`webhook_secret_enc`): sealed under the platform secret. */
  secretSealed: string;
  /** From buildEvent; its id, type and batch_id become the delivery's. */
  payload: WebhookEvent;
}

/**
 * Records the delivery (pending) and enqueues its job on the same transaction, so an event exists
 * exactly when the state change that caused it commits. Returns the event id.
 */
export async function enqueueEvent(trx: Db, jobs: JobSender, input: EnqueueEventInput): Promise<string> {
  if (!trx.isTransaction) throw new Error("enqueueEvent needs a transaction: the row and its job commit together");
  const { payload } = input;
  await insertDelivery(trx, {
    id: payload.id,
    batch_id: payload.batch_id,
    org_id: input.org_id,
    type: payload.type,
    url: input.url,
    body: JSON.stringify(payload), // the exact bytes signed and sent, on every attempt
  });
  await jobs.send(trx, "webhook", { delivery_id: payload.id, secret_sealed: input.secretSealed });
  return payload.id;
}

/**
 * Where a batch's events go: its own webhook, else its environment's default. A batch webhook
 * carries the secret it was created with (its own, or the environment's then); batches from before
 * secrets were kept on the batch fall back to the environment's. Null when there is no URL, or no
 * secret to sign with (every delivery is signed).
 */
export async function webhookTargetFor(db: Db, batchId: string): Promise<{ org_id: string; url: string; secretSealed: string } | null> {
  const row = await db("batches")
    .leftJoin("delivery_webhooks", (j) =>
      j.on("delivery_webhooks.org_id", "batches.org_id").andOn("delivery_webhooks.environment", "batches.environment"),
    )
    .where("batches.id", batchId)
    .first<{ org_id: string; b_url: string | null; b_secret: string | null; d_url: string | null; d_secret: string | null } | undefined>(
      "batches.org_id as org_id",
      "batches.webhook_url as b_url",
      "batches.webhook_secret_enc as b_secret",
      "delivery_webhooks.url as d_url",
      "delivery_webhooks.secret_enc as d_secret",
    );
  if (!row) return null;
  const url = row.b_url ?? row.d_url;
  const secretSealed = row.b_url ? (row.b_secret ?? row.d_secret) : row.d_secret;
  return url && secretSealed ? { org_id: row.org_id, url, secretSealed } : null;
}

/**
 * The one call the batch service needs: builds the event and enqueues it to the batch's webhook,
 * if it has one. `batch.progress` is sent only when its 30 s slot is free. Returns the event id,
 * or null when nothing was sent.
 */
export async function notifyBatchWebhook(
  trx: Db,
  jobs: JobSender,
  type: WebhookEventType,
  batch: BatchEventFacts | { batch_id: string; facts: () => Promise<BatchEventFacts> },
  now: Date = new Date(),
): Promise<string | null> {
  const target = await webhookTargetFor(trx, batch.batch_id);
  if (!target) return null;
  if (type === "batch.progress" && !(await claimProgressSlot(trx, batch.batch_id, now))) return null;
  // The facts (item counts, signed links) are gathered only for an event that will be sent: counting
  // a million items on every poll of a batch nobody listens to cost the pipeline most of its time.
  const facts = "facts" in batch ? await batch.facts() : batch;
  return enqueueEvent(trx, jobs, { ...target, payload: buildEvent(type, facts, now) });
}
