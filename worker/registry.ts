import type PgBoss from "pg-boss";
import type { Db } from "../db/connection.js";
import type { CatalogStore } from "../server/catalog/store.js";
import type { Config } from "../server/config.js";
import type { ArtifactStore } from "../server/files/artifact-store.js";
import { BATCH_QUEUES, batchJobPayload, createBatchQueues, workUnitJobPayload, type JobSender } from "../server/jobs/batches.js";
import { housekeeping, reviveBatches } from "../server/jobs/housekeeping.js";
import type { Logger } from "../server/logger.js";
import type { BatchWorkerDeps } from "./jobs/batch-context.js";
import { registerWebhookWorker, type WebhookWorkerOptions } from "./jobs/deliver-webhook.js";
import { dispatchBatch } from "./jobs/dispatch-batch.js";
import { cancelBatchWork } from "./jobs/cancel-batch-work.js";
import { expireBatch } from "./jobs/expire-batch.js";
import { finalizeBatch } from "./jobs/finalize-batch.js";
import { purgeHousekeeping } from "./jobs/housekeeping.js";
import { reviveStaleBatches } from "./jobs/revive-batches.js";
import { pollWorkUnit } from "./jobs/poll-work-unit.js";
import { submitWorkUnit } from "./jobs/submit-work-unit.js";
import type { ProviderCredentials } from "./providers/registry.js";
import { createSimulator, type SimulatorConfig } from "./providers/simulator.js";

export interface WorkerDeps {
  db: Db;
  boss: PgBoss;
  logger: Logger;
  config: Config;
  catalog: CatalogStore;
  jobs: JobSender;
  artifacts: ArtifactStore;
  secret: Buffer;
  credentials?: ProviderCredentials;
  simulator?: SimulatorConfig;
  retryBaseMs?: number;
  webhooks?: WebhookWorkerOptions;
}

export interface RunningWorker {
  /** Wake the workers of a queue now (after a send in this process), instead of at their next poll. */
  notify(queue: string): void;
}

/** The explicit list of queues this worker serves, and their handlers. */
export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { boss } = deps;
  const workerIds = new Map<string, string[]>();
  const ctx: BatchWorkerDeps = {
    db: deps.db, boss, config: deps.config, logger: deps.logger, jobs: deps.jobs, catalog: deps.catalog,
    simulator: createSimulator(deps.simulator ?? {}), credentials: deps.credentials ?? {},
    artifacts: deps.artifacts, secret: deps.secret, retryBaseMs: deps.retryBaseMs ?? 1000,
  };

  await boss.createQueue(housekeeping.name);
  await boss.schedule(housekeeping.name, housekeeping.cron, {});
  await boss.work(housekeeping.name, async () => {
    await purgeHousekeeping(deps.db, deps.logger.child({ job: housekeeping.name }));
  });

  await boss.createQueue(reviveBatches.name);
  await boss.schedule(reviveBatches.name, reviveBatches.cron, {});
  await boss.work(reviveBatches.name, async () => {
    await reviveStaleBatches(ctx);
  });

  await createBatchQueues(boss);
  const handlers: Record<keyof typeof BATCH_QUEUES, (data: unknown) => Promise<void>> = {
    dispatch: (d) => dispatchBatch(ctx, batchJobPayload.parse(d).batch_id),
    submit: (d) => submitWorkUnit(ctx, workUnitJobPayload.parse(d).work_unit_id),
    poll: (d) => pollWorkUnit(ctx, workUnitJobPayload.parse(d).work_unit_id),
    cancel: (d) => cancelBatchWork(ctx, batchJobPayload.parse(d).batch_id),
    finalize: (d) => finalizeBatch(ctx, batchJobPayload.parse(d).batch_id),
    expire: (d) => expireBatch(ctx, batchJobPayload.parse(d).batch_id),
  };
  for (const [key, handler] of Object.entries(handlers)) {
    const queue = BATCH_QUEUES[key as keyof typeof BATCH_QUEUES].name;
    const log = deps.logger.child({ job: queue });
    // Two pollers per queue so one slow work unit doesn't hold up the rest of the batch.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push(await boss.work(queue, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
        if (!job) return;
        const started = performance.now();
        try {
          await handler(job.data);
          log.debug({ job_id: job.id, ms: Math.round(performance.now() - started) }, "job done");
        } catch (err) {
          log.error({ err, job_id: job.id }, "job failed; pg-boss will retry it");
          throw err;
        }
      }));
    }
    workerIds.set(queue, ids);
  }

  workerIds.set("webhook.deliver", await registerWebhookWorker(boss, {
    db: deps.db, secret: deps.secret, allowPrivate: deps.config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS, logger: deps.logger,
  }, { pollingIntervalSeconds: 1, ...deps.webhooks }));

  return {
    notify(queue) {
      for (const id of workerIds.get(queue) ?? []) boss.notifyWorker(id);
    },
  };
}
