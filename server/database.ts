import path from "node:path";
import { connect, ensureDatabase, withDatabase, type Db } from "../db/connection.js";
import { findRunningEmbedded, startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../db/embedded.js";
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";

export const APP_DATABASE = "batchrouter";

export interface OpenedDatabase {
  url: string;
  db: Db;
  embedded: EmbeddedPostgresHandle | null;
  close(): Promise<void>;
}

/** Where the embedded server keeps its files for this data directory. */
export const embeddedDataDir = (config: Config) => path.join(config.BATCHROUTER_DATA_DIR, "pg");

/**
 * The platform database: DATABASE_URL when set, else the embedded PostgreSQL under the data
 * directory (started, or adopted when a server for that directory is already running).
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  opts: { poolMax?: number; preferRunning?: boolean } = {},
): Promise<OpenedDatabase> {
  let url: string;
  let embedded: EmbeddedPostgresHandle | null = null;
  if (config.DATABASE_URL) {
    url = config.DATABASE_URL;
  } else {
    const running = opts.preferRunning ? await findRunningEmbedded(embeddedDataDir(config)) : null;
    let adminUrl: string;
    if (running) {
      adminUrl = running.url;
    } else {
      const pgLog = logger.child({ component: "postgres" });
      embedded = await startEmbeddedPostgres({ dataDir: embeddedDataDir(config), log: (line) => pgLog.debug(line) });
      adminUrl = embedded.url;
      logger.info({ port: embedded.port, reused: embedded.reused, data_dir: embeddedDataDir(config) }, "embedded PostgreSQL ready");
    }
    await ensureDatabase(adminUrl, APP_DATABASE);
    url = withDatabase(adminUrl, APP_DATABASE);
  }
  const db = connect(url, { max: opts.poolMax ?? 10 });
  return {
    url,
    db,
    embedded,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
