import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import PgBoss from "pg-boss";
import { CatalogStore } from "../../server/catalog/store.js";
import { loadConfig, type Config } from "../../server/config.js";
import { createApp } from "../../server/http/app.js";
import { createBoss } from "../../server/jobs/boss.js";
import { createLogger } from "../../server/logger.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export interface TestServer {
  base: string;
  config: Config;
  database: TestDatabase;
  boss: PgBoss | null;
  close(): Promise<void>;
}

/** The real Koa app on its own database, listening on a loopback port; tests talk HTTP to it. */
export async function startTestServer(env: Record<string, string> = {}, opts: { boss?: boolean; logLines?: string[]; database?: TestDatabase } = {}): Promise<TestServer> {
  const ownDatabase = !opts.database;
  const database = opts.database ?? (await createTestDatabase());
  const config = loadConfig({ LOG_LEVEL: "silent", PORT: "0", ...env });
  const logger = opts.logLines
    ? createLogger("info", { write: (line: string) => void opts.logLines!.push(line) })
    : createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const boss = opts.boss ? createBoss(database.url, { supervise: false }) : null;
  await boss?.start();
  const { app } = createApp({ config, db: database.db, boss, logger, catalog: new CatalogStore(database.db) });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    config,
    database,
    boss,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await boss?.stop({ graceful: false, wait: true });
      if (ownDatabase) await database.drop();
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
