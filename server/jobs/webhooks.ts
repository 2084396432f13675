import type PgBoss from "pg-boss";
import { z } from "zod";
import type { Db } from "../../db/connection.js";
import { bossDbFor } from "./boss.js";

/**
 * One job per webhook delivery (a `webhook_deliveries` row); each job run is one attempt.
 *
 * The payload carries the receiver's secret sealed (AES-256-GCM under the platform secret): the
 * secret in force when the event happened signs every retry of it, and `webhook_deliveries` has no
 * column for it. It is never stored or logged in the clear.
 *
 * Retry policy (pg-boss 10 queue options, so the policy lives in one place): 8 attempts in all
 * (retryLimit 7) with pg-boss's jittered exponential backoff. pg-boss 10.4 schedules the retry after
 * attempt n (n = 1…7) at `retryDelay · 2^(n-1) · (1 + random())` seconds (plans.js, failJobs), so
 * with retryDelay = 450 s the waits are:
 *
 *   after 1: 7.5–15 min   after 2: 15–30 min   after 3: 30–60 min   after 4: 1–2 h
 *   after 5: 2–4 h        after 6: 4–8 h       after 7: 8–16 h      (8th attempt is the last)
 *
 * The 8th attempt comes 127 · 450 s · (1…2) after the first: 15.9 h at the earliest, 31.75 h at the
 * latest and 23.8 h on average — "8 attempts over ≈ 24 h" (api.md §6), spread so many receivers
 * failing together don't retry in lock step.
 */
export const webhookDelivery = {
  name: "webhook.deliver",
  payload: z.object({
    delivery_id: z.string().startsWith("evt_"),
    secret_sealed: z.string().min(1),
  }),
  queue: {
    policy: "standard",
    retryLimit: 7,
    retryDelay: 450,
    retryBackoff: true,
    // One attempt is at most ~15 s (DNS 5 s + 10 s to answer); a job still active after a minute
    // belongs to a worker that died, and pg-boss then counts it as a failed attempt and retries.
    expireInSeconds: 60,
  },
} as const;

export type WebhookDeliveryPayload = z.infer<typeof webhookDelivery.payload>;

/** Retry options a test (or an operator) may override; the rest of the queue policy is fixed. */
export type WebhookRetryOptions = Partial<Pick<PgBoss.Queue, "retryLimit" | "retryDelay" | "retryBackoff">>;

/**
 * Creates the queue, and brings an existing one to the current policy (createQueue leaves an
 * existing queue as it was). Every process that sends must run this once at start, since pg-boss
 * drops a job sent to a queue that doesn't exist.
 */
export async function createWebhookQueue(boss: PgBoss, overrides: WebhookRetryOptions = {}): Promise<void> {
  // A fresh object per call: pg-boss writes its derived settings into the options it is given.
  const options = () => ({ ...webhookDelivery.queue, ...overrides, name: webhookDelivery.name });
  await boss.createQueue(webhookDelivery.name, options());
  await boss.updateQueue(webhookDelivery.name, options());
}

/**
 * Sends the delivery job on the caller's transaction: it exists only if the transaction commits,
 * together with the `webhook_deliveries` row it acts on. Throws (so the transaction rolls back)
 * if pg-boss didn't insert the job, rather than leave a pending row that nothing will deliver.
 */
export async function enqueueWebhookDelivery(trx: Db, boss: PgBoss, payload: WebhookDeliveryPayload): Promise<string> {
  const data = webhookDelivery.payload.parse(payload);
  const jobId = await boss.send(webhookDelivery.name, data, { db: nullForUndefined(bossDbFor(trx)) });
  if (!jobId) throw new Error(`pg-boss did not accept the ${webhookDelivery.name} job (was createWebhookQueue run?)`);
  return jobId;
}

/**
 * pg-boss passes `undefined` for every send option left unset; node-pg sends those as NULL, but
 * knex's raw() rejects undefined bindings, so bossDbFor alone fails on a plain send.
 * (Better fixed once in bossDbFor itself: `values[n - 1] ?? null`.)
 */
function nullForUndefined(db: PgBoss.Db): PgBoss.Db {
  return { executeSql: (text, values = []) => db.executeSql(text, values.map((v) => (v === undefined ? null : v))) };
}

/** The [earliest, latest] wait in seconds before retry `n` (1…retryLimit) under pg-boss 10's backoff. */
export function webhookRetryWait(n: number, retryDelay: number = webhookDelivery.queue.retryDelay): [number, number] {
  const base = retryDelay * 2 ** Math.min(16, n - 1);
  return [base, 2 * base];
}
