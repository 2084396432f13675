import type PgBoss from "pg-boss";
import { z } from "zod";
import type { Db } from "../../db/connection.js";
import { bossDbFor } from "./boss.js";

/**
 * `expireInSeconds` is how long a job may stay active before pg-boss hands it to another worker:
 * what bounds the recovery from a worker killed mid-job (the default, 15 minutes, is far too long
 * for a work-unit step). Handlers are idempotent, so an expiry that was only slowness costs a
 * duplicate run, never a duplicate result or charge.
 *
 * The batch pipeline's queues — one job per batch step or per work unit, never per item.
 * `short` queues keep at most one queued job per singleton key, so a step that is re-sent after a
 * crash doesn't pile up copies (handlers are idempotent anyway).
 */
export const BATCH_QUEUES = {
  dispatch: { name: "batch.dispatch", policy: "short", key: "batch_id", expireInSeconds: 120 },
  submit: { name: "wu.submit", policy: "short", key: "work_unit_id", expireInSeconds: 300 },
  poll: { name: "wu.poll", policy: "short", key: "work_unit_id", expireInSeconds: 300 },
  cancel: { name: "batch.cancel", policy: "short", key: "batch_id", expireInSeconds: 300 },
  finalize: { name: "batch.finalize", policy: "short", key: "batch_id", expireInSeconds: 900 },
  expire: { name: "batch.expire", policy: "standard", key: "batch_id", expireInSeconds: 900 },
} as const;

export type BatchQueue = keyof typeof BATCH_QUEUES;

export const batchJobPayload = z.object({ batch_id: z.string() });
export const workUnitJobPayload = z.object({ work_unit_id: z.string() });

const RETRY = { retryLimit: 5, retryDelay: 2, retryBackoff: true } as const;

export interface JobSender {
  /** Enqueue in the caller's transaction; the job exists only if the transaction commits. */
  send(trx: Db, queue: BatchQueue, data: Record<string, string>, opts?: { startAfter?: Date }): Promise<void>;
}

export function createJobSender(boss: PgBoss, afterSend?: (queue: string) => void): JobSender {
  return {
    async send(trx, queue, data, opts = {}) {
      const q = BATCH_QUEUES[queue];
      await boss.send(q.name, data, {
        ...RETRY,
        singletonKey: data[q.key],
        startAfter: opts.startAfter,
        db: bossDbFor(trx),
      });
      // Wake an in-process worker once the job is visible, instead of waiting for its next poll.
      if (afterSend) {
        const committed = trx.isTransaction ? (trx as Db & { executionPromise?: Promise<unknown> }).executionPromise : undefined;
        if (committed) committed.then(() => afterSend(q.name), () => undefined);
        else afterSend(q.name);
      }
    },
  };
}

export async function createBatchQueues(boss: PgBoss): Promise<void> {
  for (const q of Object.values(BATCH_QUEUES)) {
    const options = { name: q.name, policy: q.policy, expireInSeconds: q.expireInSeconds, ...RETRY };
    await boss.createQueue(q.name, options);
    // createQueue leaves an existing queue as it was; make its policy the current one.
    await boss.updateQueue(q.name, options);
  }
}
