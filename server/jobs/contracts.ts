import type { Queue } from "pg-boss";
import { z } from "zod";

/**
 * Every queue of the platform, declared alike: its pg-boss name, the payload schema (checked when
 * sent and again when run), the queue options, and for scheduled jobs the cron. The domain sends
 * with `JobSender.send(trx, key, payload)` (sender.ts); the worker registry serves this same list.
 *
 * `expireInSeconds` is how long a job may stay active before pg-boss hands it to another worker:
 * what bounds the recovery from a worker killed mid-job (the default, 15 minutes, is far too long
 * for a work-unit step). Handlers are idempotent, so an expiry that was only slowness costs a
 * duplicate run, never a duplicate result or charge.
 */
export interface JobContract {
  name: string;
  payload: z.ZodType<Record<string, unknown>>;
  options: Omit<Queue, "name">;
  /** Payload field holding the singleton key: a `short` queue keeps one queued job per key. */
  singletonKey?: string;
  cron?: string;
}

// Batch steps: one job per batch step or per work unit, never per item. `short` queues keep at most
// one queued job per singleton key, so a step re-sent after a crash doesn't pile up copies.
const STEP_RETRY = { retryLimit: 5, retryDelay: 2, retryBackoff: true } as const;
const batchStep = z.object({ batch_id: z.string().min(1) });
const unitStep = z.object({ work_unit_id: z.string().min(1) });

export const JOBS = {
  /** A large batch's first step: validate, price, reserve and write its items (server/batches/prepare-large.ts). */
  prepare: {
    name: "batch.prepare",
    payload: batchStep,
    singletonKey: "batch_id",
    // A million items take a minute or two; an expiry shorter than that would run it twice.
    options: { policy: "short", expireInSeconds: 900, ...STEP_RETRY },
  },
  dispatch: {
    name: "batch.dispatch",
    payload: batchStep,
    singletonKey: "batch_id",
    options: { policy: "short", expireInSeconds: 120, ...STEP_RETRY },
  },
  submit: {
    name: "wu.submit",
    payload: unitStep,
    singletonKey: "work_unit_id",
    options: { policy: "short", expireInSeconds: 300, ...STEP_RETRY },
  },
  poll: {
    name: "wu.poll",
    payload: unitStep,
    singletonKey: "work_unit_id",
    options: { policy: "short", expireInSeconds: 300, ...STEP_RETRY },
  },
  cancel: {
    name: "batch.cancel",
    payload: batchStep,
    singletonKey: "batch_id",
    options: { policy: "short", expireInSeconds: 300, ...STEP_RETRY },
  },
  finalize: {
    name: "batch.finalize",
    payload: batchStep,
    singletonKey: "batch_id",
    options: { policy: "short", expireInSeconds: 900, ...STEP_RETRY },
  },
  expire: {
    name: "batch.expire",
    payload: batchStep,
    singletonKey: "batch_id",
    options: { policy: "standard", expireInSeconds: 900, ...STEP_RETRY },
  },

  /**
   * One job per webhook delivery (a `webhook_deliveries` row); each run is one attempt. The payload
   * carries the receiver's secret sealed (AES-256-GCM under the platform secret): the secret in
   * force when the event happened signs every retry of it, and it is never stored or logged in the
   * clear.
   *
   * 8 attempts in all (retryLimit 7) with pg-boss's jittered exponential backoff. pg-boss (10.4 and
   * 12.38 alike; 12 only adds an optional retryDelayMax cap, unset here) schedules the retry after
   * attempt n (n = 1…7) at `retryDelay · 2^(n-1) · (1 + random())` seconds (plans, failJobs), so
   * with retryDelay = 450 s the waits are:
   *
   *   after 1: 7.5–15 min   after 2: 15–30 min   after 3: 30–60 min   after 4: 1–2 h
   *   after 5: 2–4 h        after 6: 4–8 h       after 7: 8–16 h      (8th attempt is the last)
   *
   * The 8th attempt comes 127 · 450 s · (1…2) after the first: 15.9 h at the earliest, 31.75 h at
   * the latest and 23.8 h on average — "8 attempts over ≈ 24 h" (api.md §6), spread so many
   * receivers failing together don't retry in lock step. One attempt is at most ~15 s (DNS 5 s + 10
   * s to answer); a job still active after a minute belongs to a worker that died, and pg-boss then
   * counts it as a failed attempt and retries.
   */
  webhook: {
    name: "webhook.deliver",
    payload: z.object({ delivery_id: z.string().startsWith("evt_"), secret_sealed: z.string().min(1) }),
    options: { policy: "standard", retryLimit: 7, retryDelay: 450, retryBackoff: true, expireInSeconds: 60 },
  },

  /** Hourly clean-up of expired idempotency records and rate-limit counters. */
  housekeeping: { name: "housekeeping.purge", payload: z.object({}), cron: "17 * * * *", options: { policy: "standard" } },
  /** Every 5 minutes: re-send the next step of batches that have not moved for a while. */
  revive: { name: "batches.revive", payload: z.object({}), cron: "*/5 * * * *", options: { policy: "standard" } },
} as const satisfies Record<string, JobContract>;

export type JobKey = keyof typeof JOBS;
export type PayloadOf<K extends JobKey> = z.infer<(typeof JOBS)[K]["payload"]>;
/** The jobs a service sends; the cron jobs are only scheduled. */
export type SentJob = { [K in JobKey]: (typeof JOBS)[K] extends { cron: string } ? never : K }[JobKey];

/** Queue options a test (or an operator) may override per queue; the rest of each policy is fixed. */
export type QueueOverrides = Partial<Record<JobKey, Partial<Pick<Queue, "retryLimit" | "retryDelay" | "retryBackoff">>>>;

/** The [earliest, latest] wait in seconds before webhook retry `n` (1…retryLimit) under pg-boss's backoff. */
export function webhookRetryWait(n: number, retryDelay: number = JOBS.webhook.options.retryDelay): [number, number] {
  const base = retryDelay * 2 ** Math.min(16, n - 1);
  return [base, 2 * base];
}
