import type { PgBoss } from "pg-boss";
import type { Db } from "../../db/connection.js";
import { bossDbFor } from "./boss.js";
import { JOBS, type JobContract, type JobKey, type PayloadOf, type QueueOverrides, type SentJob } from "./contracts.js";

/** How the domain starts work: the one handle it holds on the queue (never pg-boss itself). */
export interface JobSender {
  /**
   * Enqueues `job` in the caller's transaction: it exists only if the transaction commits, with
   * the rows it acts on. The payload is checked against the job's schema first.
   */
  send<K extends SentJob>(trx: Db, job: K, payload: PayloadOf<K>, opts?: { startAfter?: Date }): Promise<void>;
}

/** `afterSend` wakes an in-process worker once the job is visible, instead of at its next poll. */
export function createJobSender(boss: PgBoss, afterSend?: (queue: string) => void): JobSender {
  return {
    async send(trx, job, payload, opts = {}) {
      const contract: JobContract = JOBS[job];
      const data = contract.payload.parse(payload);
      const singletonKey = contract.singletonKey ? String(data[contract.singletonKey]) : undefined;
      // Retry and expiry come from the queue (createQueues), so an operator's or a test's overrides hold.
      const id = await boss.send(contract.name, data, {
        singletonKey,
        startAfter: opts.startAfter,
        db: bossDbFor(trx),
      });
      // A `short` queue declines a duplicate of a queued step (expected); any other queue declining
      // a job means it would be lost: fail, so the caller's transaction rolls back.
      if (!id && contract.options.policy !== "short")
        throw new Error(`pg-boss did not accept the ${contract.name} job (was createQueues run?)`);
      if (afterSend) {
        const wake = () => wakeWhenDue(() => afterSend(contract.name), opts.startAfter);
        const committed = trx.isTransaction ? (trx as Db & { executionPromise?: Promise<unknown> }).executionPromise : undefined;
        if (committed) committed.then(wake, () => undefined);
        else wake();
      }
    },
  };
}

/**
 * Runs `wake` now, or when a delayed job falls due. An idle pg-boss worker only looks again at its
 * next poll (0.5 s for batch steps), so a step scheduled 100 ms ahead — a young work unit's next
 * look at its provider — would wait up to half a second more than asked. The job itself is durable
 * either way: the timer only saves the wait in the process that sent it (unref'd, so it never holds
 * a stopping process), and any worker's own polling still finds the job if this process is gone.
 * `startAfter` is this process's clock and pg-boss compares it with the database's; a timer that
 * fires early against a skewed database clock finds nothing, and the worker's polling takes over.
 */
function wakeWhenDue(wake: () => void, startAfter: Date | undefined): void {
  const delay = startAfter ? startAfter.getTime() - Date.now() : 0;
  // Further ahead, half a second of pickup is a small share of the wait: not worth a timer per job.
  if (delay <= 0) wake();
  else if (delay <= MAX_WAKE_DELAY_MS) setTimeout(wake, delay + 1).unref();
}
const MAX_WAKE_DELAY_MS = 10_000;

/**
 * Creates every queue, and brings an existing one to the current policy (createQueue leaves an
 * existing queue as it was). Every process that sends must run this once at start, since pg-boss
 * drops a job sent to a queue that doesn't exist.
 */
export async function createQueues(boss: PgBoss, overrides: QueueOverrides = {}): Promise<void> {
  for (const key of Object.keys(JOBS) as JobKey[]) {
    const contract: JobContract = JOBS[key];
    // A fresh object per call: pg-boss writes its derived settings into the options it is given.
    const options = () => ({ ...contract.options, ...overrides[key], name: contract.name });
    await retryOnDeadlock(() => boss.createQueue(contract.name, options()));
    // pg-boss 12 refuses `policy` in an update (a queue's policy is fixed at creation).
    const { policy: _fixed, name: _name, ...settings } = options();
    // …and an update with nothing in it (a policy-only queue).
    if (Object.keys(settings).length > 0) await boss.updateQueue(contract.name, settings);
  }
}

/**
 * Processes starting together on a fresh database (two APIs and three workers, say) race to create
 * the same queues. pg-boss 10's create_queue inserts the queue row and then, in the same
 * transaction, adds a foreign key to the queue table from the queue's new partition, so two racers
 * can deadlock (40P01) and the loser would fail its start (kept for 12: cheap, and harmless if the
 * race no longer occurs). PostgreSQL has rolled the loser back;
 * running it again finds the queue made and does nothing.
 */
async function retryOnDeadlock(run: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if ((err as { code?: string }).code !== "40P01" || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 50 * attempt));
    }
  }
}

/** Schedules the cron jobs (worker processes only: pg-boss runs one schedule across them). */
export async function scheduleCrons(boss: PgBoss): Promise<void> {
  for (const contract of Object.values(JOBS) as JobContract[]) {
    if (contract.cron) await boss.schedule(contract.name, contract.cron, {});
  }
}
