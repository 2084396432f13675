import fs from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { loadConfig, type Config } from "../../server/config.js";
import { createApp } from "../../server/http/app.js";
import { listen } from "../../server/http/listen.js";
import { createLogger } from "../../server/logger.js";
import { startPlatform, type Platform } from "../../server/platform.js";
import type { WorkerDeps } from "../../worker/registry.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export interface TestServer {
  base: string;
  config: Config;
  database: TestDatabase;
  platform: Platform;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  logLines?: string[];
  database?: TestDatabase;
  /** Run the worker in this process too (batches execute); its simulator/retry settings. */
  worker?: Partial<Pick<WorkerDeps, "simulator" | "credentials" | "retryBaseMs" | "webhooks">> | true;
}

/** The real Koa app (and optionally the worker) on its own database, on a loopback port. */
export async function startTestServer(env: Record<string, string> = {}, opts: TestServerOptions = {}): Promise<TestServer> {
  const ownDatabase = !opts.database;
  const database = opts.database ?? (await createTestDatabase());
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-test-data-"));
  const config = loadConfig({
    LOG_LEVEL: "silent",
    PORT: "0",
    BATCHROUTER_DATA_DIR: dataDir,
    BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS: "1",
    ...env,
  });
  const logger = opts.logLines
    ? createLogger("info", { write: (line: string) => void opts.logLines!.push(line) })
    : createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const worker = opts.worker === true ? {} : opts.worker;
  const platform = await startPlatform({
    config,
    db: database.db,
    url: database.url,
    logger,
    role: worker ? "all" : "api",
    worker: worker
      ? {
          retryBaseMs: 20,
          simulator: { turnaroundMs: 0 },
          webhooks: { retry: { retryDelay: 0, retryBackoff: false }, pollingIntervalSeconds: 0.5 },
          ...worker,
        }
      : undefined,
  });
  const { app } = createApp(platform.appDeps, platform.mcp);
  const server = await listen(app, config.PORT, "127.0.0.1");
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    config,
    database,
    platform,
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await platform.boss.stop({ graceful: false });
      if (ownDatabase) await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** fetch with JSON in and out; returns status, headers and the parsed body. */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.Authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

/** Signs up a fresh agent and returns its keys. */
export async function registerAgent(base: string, body: unknown = undefined) {
  const res = await call(base, "POST", "/v1/auth/agent-register", body === undefined ? {} : { body });
  if (res.status !== 201) throw new Error(`agent-register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { org_id: string; api_key: string; api_key_id: string; test_api_key: string; test_api_key_id: string };
}

// Re-exported so tests that drive a server import their waiting from the same place.
export { waitFor } from "./wait.js";
