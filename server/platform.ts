import type { PgBoss } from "pg-boss";
import type { Db } from "../db/connection.js";
import { executionModes, liveRoutes } from "../worker/providers/registry.js";
import { simulatorSettingsSchema } from "../worker/providers/simulator.js";
import { startWorker, type RunningWorker, type WorkerDeps } from "../worker/registry.js";
import { CatalogStore } from "./catalog/store.js";
import type { Config } from "./config.js";
import { resolvePlatformSecret } from "./crypto.js";
import { createArtifactStore } from "./files/artifact-stores.js";
import { createMcpHttpHandler } from "../mcp/http-handler.js";
import type { AppDeps, McpHttpHandler } from "./deps.js";
import { carryOverV10Jobs, moveAsideV10Schema } from "./jobs/boss-v10-cutover.js";
import { createBoss } from "./jobs/boss.js";
import { createJobSender, createQueues } from "./jobs/sender.js";
import type { Logger } from "./logger.js";

export type Role = "all" | "api" | "worker";

export interface Platform {
  appDeps: AppDeps;
  /** Answers /mcp; pass to createApp. */
  mcp: McpHttpHandler;
  boss: PgBoss;
  /**
   * Stops taking jobs at once and lets the running ones finish for up to `timeoutMs` (at least 1 s,
   * pg-boss's floor); pg-boss then fails whatever still runs, so it is retried elsewhere, and closes
   * its connections.
   */
  stop(timeoutMs?: number): Promise<void>;
  /** Jobs running in this process now (0 in an API-only process). */
  runningJobs(): number;
}

/**
 * Wires one process: the job queue, the artifact store, the catalog cache, and — unless this is
 * an API-only process — the worker. `npm start`, the tests and the benchmarks all build it here.
 */
export async function startPlatform(opts: {
  config: Config;
  db: Db;
  url: string;
  logger: Logger;
  role: Role;
  worker?: Partial<Pick<WorkerDeps, "simulator" | "credentials" | "retryBaseMs" | "webhooks">>;
}): Promise<Platform> {
  const { config, db, logger } = opts;
  const secret = await resolvePlatformSecret(config);
  const catalog = new CatalogStore(db, undefined, config.customEndpoints);
  const boss = createBoss(opts.url, { supervise: opts.role !== "api" });
  let stopping = false;
  // While stopping, the database going away under pg-boss's pool is expected, not an error.
  boss.on("error", (err) =>
    stopping ? logger.debug({ err }, "job queue error while stopping") : logger.error({ err }, "job queue error"),
  );
  // A database last run by pg-boss 10 can't be migrated by 12 itself (server/jobs/boss-v10-cutover.ts).
  if (await moveAsideV10Schema(db)) logger.warn("pg-boss 10 schema found: moved aside, its unfinished jobs will be carried over");
  await boss.start();
  // Queues must exist before anything is sent to them, whichever process sends first.
  await createQueues(boss, { webhook: opts.worker?.webhooks?.retry });
  const carried = await carryOverV10Jobs(db, boss);
  if (carried > 0) logger.warn({ jobs: carried }, "carried pg-boss 10 jobs over to pg-boss 12");
  let worker: RunningWorker | null = null;
  const jobs = createJobSender(boss, (queue) => worker?.notify(queue));
  // An empty base makes local download links relative; the API completes them with the request's origin.
  const artifacts = await createArtifactStore(config, { publicBaseUrl: config.BATCHROUTER_PUBLIC_URL ?? "", secret });
  // Credentials are the operator's configured endpoints (a test may pass its own).
  const credentials = opts.worker?.credentials ?? config.providers;
  if (opts.role !== "api") {
    const simulator = {
      turnaroundMs: config.BATCHROUTER_SIMULATOR_TURNAROUND_MS,
      ...(config.BATCHROUTER_SIMULATOR ? simulatorSettingsSchema.parse(JSON.parse(config.BATCHROUTER_SIMULATOR)) : {}),
      ...opts.worker?.simulator,
    };
    worker = await startWorker({
      db,
      boss,
      logger,
      config,
      catalog,
      jobs,
      artifacts,
      secret,
      retryBaseMs: config.BATCHROUTER_RETRY_BASE_MS,
      ...opts.worker,
      credentials,
      simulator,
    });
  }
  const providers = (await catalog.get()).catalog.providers;
  const modes = executionModes(providers, credentials);
  const live = liveRoutes(providers, credentials);
  const appDeps: AppDeps = { config, db, logger, catalog, jobs, artifacts, secret, providerModes: () => modes, liveRoutes: () => live };
  return {
    appDeps,
    mcp: createMcpHttpHandler(appDeps),
    boss,
    runningJobs: () => worker?.running() ?? 0,
    async stop(timeoutMs = config.SHUTDOWN_TIMEOUT_MS) {
      stopping = true;
      await boss.stop({ graceful: true, timeout: timeoutMs });
    },
  };
}
