import type { Server } from "node:http";
import type { Db } from "../db/connection.js";
import { migrate } from "../db/migrate.js";
import { syncSeedCatalog } from "./catalog/store.js";
import { type Config, loadConfig, publicBaseUrl } from "./config.js";
import { openDatabase } from "./database.js";
import { createApp } from "./http/app.js";
import { closeServer, listen, whenIdle } from "./http/listen.js";
import { createLogger, type Logger } from "./logger.js";
import { startMetricsServer } from "./metrics/metrics-server.js";
import { createScrapeRegistry } from "./metrics/scrape-gauges.js";
import { DrainState } from "./ops/drain-state.js";
import { handleShutdownSignals } from "./ops/shutdown.js";
import { type Role, startPlatform } from "./platform.js";

function roleFromArgs(argv: string[]): Role {
  const arg = argv.find((a) => a.startsWith("--role="))?.slice("--role=".length) ?? "all";
  if (arg !== "all" && arg !== "api" && arg !== "worker") {
    throw new Error(`--role must be api, worker or all (got "${arg}")`);
  }
  return arg;
}

/** `npm start`: config → database (embedded or DATABASE_URL) → migrate → API and/or worker. */
async function main() {
  const role = roleFromArgs(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config, logger);
  await migrate(database.db);
  await syncSeedCatalog(database.db);
  const platform = await startPlatform({ config, db: database.db, url: database.url, logger, role });

  const drain = new DrainState();
  let server: Server | null = null;
  if (role !== "worker") {
    const { app } = createApp(platform.appDeps, platform.mcp, { drain });
    server = await listen(app, config.PORT, config.HOST);
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.PORT;
    const base = publicBaseUrl({ ...config, PORT: port });
    logger.info({ role, url: base }, "BatchRouter is up");
    process.stdout.write(
      `\nBatchRouter (${role}) is running at ${base}\n` +
        `  Get an API key:   curl -s -X POST ${base}/v1/auth/agent-register\n` +
        `  API reference:    ${base}/v1/openapi.json\n` +
        `  Stop:             Ctrl-C\n\n`,
    );
  } else {
    logger.info({ role }, "BatchRouter worker is up");
  }
  const metricsServer = await startMetricsListener(config, database.db, logger, role);

  handleShutdownSignals({
    drain,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    logger,
    stopJobs: (ms) => platform.stop(ms),
    runningJobs: () => platform.runningJobs(),
    httpIdle: (ms) => (server ? whenIdle(server, ms) : Promise.resolve(true)),
    async closeServers(force) {
      await Promise.all([server && closeServer(server, force), metricsServer && closeServer(metricsServer, true)]);
    },
    closeDatabase: () => database.close(),
    exit: (code) => process.exit(code),
  });
}

/**
 * The METRICS_PORT listener, when set: the only way to scrape a worker-only process, which has no
 * API port (the API serves /metrics on its own port too).
 */
async function startMetricsListener(config: Config, db: Db, logger: Logger, role: Role): Promise<Server | null> {
  if (config.METRICS_PORT === undefined) {
    if (role === "worker") logger.info("no metrics endpoint: set METRICS_PORT to scrape this worker");
    return null;
  }
  const server = await startMetricsServer({
    port: config.METRICS_PORT,
    host: config.HOST,
    token: config.METRICS_TOKEN,
    scrape: createScrapeRegistry(db, logger),
    logger,
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.METRICS_PORT;
  const url = `${publicBaseUrl({ ...config, BATCHROUTER_PUBLIC_URL: undefined, PORT: port })}/metrics`;
  logger.info({ url }, "metrics listener is up");
  process.stdout.write(`BatchRouter (${role}) metrics at ${url}\n`);
  return server;
}

main().catch((err) => {
  process.stderr.write(`BatchRouter failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
