import type { Server } from "node:http";
import { migrate } from "../db/migrate.js";
import { syncSeedCatalog } from "./catalog/store.js";
import { loadConfig, publicBaseUrl } from "./config.js";
import { openDatabase } from "./database.js";
import { createApp } from "./http/app.js";
import { listen } from "./http/listen.js";
import { createLogger } from "./logger.js";
import { startPlatform } from "./platform.js";

function roleFromArgs(argv: string[]): "all" | "api" | "worker" {
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

  let server: Server | null = null;
  if (role !== "worker") {
    const { app } = createApp(platform.appDeps, platform.mcp);
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

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const hardStop = setTimeout(() => process.exit(1), 30_000);
    hardStop.unref();
    if (server) {
      server.closeIdleConnections?.();
      await new Promise<void>((r) => server!.close(() => r()));
    }
    await platform.stop().catch((err) => logger.error({ err }, "job queue stop"));
    await database.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => {
  process.stderr.write(`BatchRouter failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
