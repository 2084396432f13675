import type { PgBoss } from "pg-boss";
import type { Db } from "../db/connection.js";
import type { CatalogStore } from "../server/catalog/store.js";
import type { Config } from "../server/config.js";
import type { ArtifactStore } from "../server/files/artifact-store.js";
import { JOBS, type JobKey, type PayloadOf, type QueueOverrides } from "../server/jobs/contracts.js";
import { createQueues, scheduleCrons, type JobSender } from "../server/jobs/sender.js";
import type { Logger } from "../server/logger.js";
import { jobRunSeconds, jobWaitSeconds } from "../server/metrics/process-metrics.js";
import type { BatchWorkerDeps } from "./batch-context.js";
import { cancelBatchWork } from "./jobs/cancel-batch-work.js";
import { deliverWebhook } from "./jobs/deliver-webhook.js";
import { dispatchBatch } from "./jobs/dispatch-batch.js";
import { prepareLargeBatch } from "../server/batches/prepare-large.js";
import { expireBatch } from "./jobs/expire-batch.js";
import { finalizeBatch } from "./jobs/finalize-batch.js";
import { purgeHousekeeping } from "./jobs/housekeeping.js";
import { pollWorkUnit } from "./jobs/poll-work-unit.js";
import { reviveStaleBatches } from "./jobs/revive-batches.js";
import { submitWorkUnit } from "./jobs/submit-work-unit.js";
import type { ProviderCredentials } from "./providers/registry.js";
import { createSimulator, type SimulatorConfig } from "./providers/simulator.js";

export interface WebhookWorkerOptions {
  /** Override the queue's retry policy (tests: { retryDelay: 0, retryBackoff: false }). */
  retry?: NonNullable<QueueOverrides["webhook"]>;
  /** How often an idle worker polls (pg-boss default 2 s, minimum 0.5 s). */
  pollingIntervalSeconds?: number;
  /** Deliveries in flight at once in this process; one slow receiver mustn't hold up the others. */
  concurrency?: number;
}

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
  /** Jobs whose handler is running in this process now (what a shutdown at its bound would cut). */
  running(): number;
}

/** One run of a job: its checked payload, and whether pg-boss will retry it if this run fails. */
export type JobHandler<K extends JobKey> = (payload: PayloadOf<K>, run: { lastAttempt: boolean }) => Promise<unknown>;

/** How a queue is served here: its handler, how many pollers, how often they poll. */
interface Serving<K extends JobKey> {
  handle: JobHandler<K>;
  /** Pollers in this process: two for batch steps, so one slow work unit doesn't hold up the rest. */
  pollers: number;
  pollingIntervalSeconds: number;
}

/** The explicit list of what this worker runs: one entry per queue of server/jobs/contracts.ts. */
function servings(ctx: BatchWorkerDeps, deps: WorkerDeps): { [K in JobKey]: Serving<K> } {
  const step = { pollers: 2, pollingIntervalSeconds: 0.5 };
  const hooks = { db: deps.db, secret: deps.secret, allowPrivate: deps.config.BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS, logger: deps.logger };
  return {
    // One at a time per process: preparing holds a few hundred bytes per item (a million-item
    // manifest ~250 MB at its peak), and two at once would double that.
    prepare: { ...step, pollers: 1, handle: (p) => prepareLargeBatch(ctx, p.batch_id) },
    dispatch: { ...step, handle: (p) => dispatchBatch(ctx, p.batch_id) },
    submit: { ...step, handle: (p) => submitWorkUnit(ctx, p.work_unit_id) },
    poll: { ...step, handle: (p) => pollWorkUnit(ctx, p.work_unit_id) },
    cancel: { ...step, handle: (p) => cancelBatchWork(ctx, p.batch_id) },
    finalize: { ...step, handle: (p) => finalizeBatch(ctx, p.batch_id) },
    expire: { ...step, handle: (p) => expireBatch(ctx, p.batch_id) },
    webhook: {
      pollers: deps.webhooks?.concurrency ?? 4,
      pollingIntervalSeconds: deps.webhooks?.pollingIntervalSeconds ?? 1,
      handle: async (p, run) => ({ outcome: await deliverWebhook(hooks, p, run) }),
    },
    housekeeping: {
      pollers: 1,
      pollingIntervalSeconds: 2,
      handle: () => purgeHousekeeping(deps.db, ctx.artifacts, deps.logger.child({ job: JOBS.housekeeping.name })),
    },
    revive: { pollers: 1, pollingIntervalSeconds: 2, handle: () => reviveStaleBatches(ctx) },
  };
}

/** Starts `pollers` pg-boss workers on one queue; each job's payload is checked against its contract. */
export async function serveQueue<K extends JobKey>(
  boss: PgBoss,
  key: K,
  serving: Serving<K>,
  logger: Logger,
  inFlight: { count: number } = { count: 0 },
): Promise<string[]> {
  const contract = JOBS[key];
  const log = logger.child({ job: contract.name });
  const ids: string[] = [];
  for (let i = 0; i < serving.pollers; i++) {
    ids.push(
      await boss.work(
        contract.name,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: serving.pollingIntervalSeconds },
        async ([job]) => {
          if (!job) return;
          const started = performance.now();
          // Waiting counts from when the job was due: a poll scheduled 30 s ahead, or a retry's
          // backoff, is not backlog. Both stamps are the database's clock.
          jobWaitSeconds.observe({ queue: contract.name }, Math.max(0, job.startedOn.getTime() - job.startAfter.getTime()) / 1000);
          const ran = (outcome: "completed" | "failed") =>
            jobRunSeconds.observe({ queue: contract.name, outcome }, (performance.now() - started) / 1000);
          inFlight.count++;
          try {
            // pg-boss counts retries from 0; when they are used up this run is the last attempt.
            const result = await serving.handle(contract.payload.parse(job.data) as PayloadOf<K>, {
              lastAttempt: job.retryCount >= job.retryLimit,
            });
            ran("completed");
            log.debug({ job_id: job.id, ms: Math.round(performance.now() - started) }, "job done");
            return result;
          } catch (err) {
            ran("failed");
            log.error({ err, job_id: job.id }, "job failed; pg-boss will retry it");
            throw err;
          } finally {
            inFlight.count--;
          }
        },
      ),
    );
  }
  return ids;
}

/** Creates the queues, schedules the crons, and serves every queue of the list. */
export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { boss } = deps;
  const ctx: BatchWorkerDeps = {
    db: deps.db,
    config: deps.config,
    logger: deps.logger,
    jobs: deps.jobs,
    catalog: deps.catalog,
    simulator: createSimulator(deps.simulator ?? {}),
    credentials: deps.credentials ?? {},
    artifacts: deps.artifacts,
    secret: deps.secret,
    retryBaseMs: deps.retryBaseMs ?? 1000,
  };
  await createQueues(boss, { webhook: deps.webhooks?.retry });
  await scheduleCrons(boss);
  const workerIds = new Map<string, string[]>();
  const inFlight = { count: 0 };
  const all = servings(ctx, deps);
  for (const key of Object.keys(all) as JobKey[]) {
    workerIds.set(JOBS[key].name, await serveQueue(boss, key, all[key] as Serving<typeof key>, deps.logger, inFlight));
  }
  return {
    notify(queue) {
      for (const id of workerIds.get(queue) ?? []) boss.notifyWorker(id);
    },
    running: () => inFlight.count,
  };
}
