import fs from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { connect, ensureDatabase, withDatabase, type Db } from "../db/connection.js";
import { startEmbeddedPostgres } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { syncSeedCatalog } from "../server/catalog/store.js";
import { loadConfig } from "../server/config.js";
import { createApp } from "../server/http/app.js";
import { listen } from "../server/http/listen.js";
import { createLogger } from "../server/logger.js";
import { startPlatform } from "../server/platform.js";

export interface BenchPlatform {
  base: string;
  db: Db;
  url: string;
  close(): Promise<void>;
}

/** The real API on a fresh embedded PostgreSQL (or BENCH_DATABASE_URL), as `npm start` runs it. */
export async function startBenchPlatform(env: Record<string, string> = {}): Promise<BenchPlatform> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-bench-"));
  await fs.chmod(dir, 0o755);
  const pg = process.env.BENCH_DATABASE_URL
    ? null
    : await startEmbeddedPostgres({
        dataDir: path.join(dir, "pg"),
        persistent: false,
        postgresFlags: [
          "-c",
          "fsync=off",
          "-c",
          "synchronous_commit=off",
          // BENCH_PG_STATS=1: pg_stat_statements loaded, for a probe to ask where the database's time went.
          ...(process.env.BENCH_PG_STATS ? ["-c", "shared_preload_libraries=pg_stat_statements"] : []),
          ...(process.env.BENCH_PG_SLOW
            ? ["-c", "session_preload_libraries=auto_explain", "-c", `auto_explain.log_min_duration=${process.env.BENCH_PG_SLOW}`]
            : []),
        ],
        log: process.env.BENCH_PG_SLOW ? (l: string) => console.error("PG", l) : undefined,
      });
  const adminUrl = process.env.BENCH_DATABASE_URL ?? pg!.url;
  await ensureDatabase(adminUrl, "bench");
  const url = withDatabase(adminUrl, "bench");
  const db = connect(url, { max: 10 });
  await migrate(db);
  await syncSeedCatalog(db);
  const config = loadConfig({
    LOG_LEVEL: "silent",
    BATCHROUTER_DATA_DIR: dir,
    RATE_LIMIT_PER_KEY_PER_MIN: "1000000",
    RATE_LIMIT_PER_IP_PER_MIN: "1000000",
    ...env,
  });
  const platform = await startPlatform({
    config,
    db,
    url,
    logger: createLogger(process.env.BENCH_LOG_LEVEL ?? "silent"),
    role: "all",
    worker: { simulator: { turnaroundMs: 0 } },
  });
  const { app } = createApp(platform.appDeps, platform.mcp);
  const server = await listen(app, 0, "127.0.0.1");
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    db,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await platform.stop();
      await db.destroy();
      await pg?.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export async function post(base: string, pathname: string, key: string | null, body: unknown) {
  const res = await fetch(`${base}${pathname}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Runs `fn` on a fresh platform with a new agent's test key, then closes the platform. */
export async function withBenchPlatform<T>(
  fn: (platform: BenchPlatform, key: string) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const platform = await startBenchPlatform(env);
  try {
    const reg = await post(platform.base, "/v1/auth/agent-register", null, {});
    return await fn(platform, reg.body.test_api_key as string);
  } finally {
    await platform.close();
  }
}
