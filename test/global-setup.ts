import os from "node:os";
import path from "node:path";
import fs from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { connect, ensureDatabase, withDatabase } from "../db/connection.js";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { createBoss } from "../server/jobs/boss.js";
import { syncSeedCatalog } from "../server/catalog/store.js";

export const TEMPLATE_DB = "app_template";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let server: EmbeddedPostgresHandle | null = null;
let tempDir: string | null = null;

/**
 * One PostgreSQL per test run (embedded, or TEST_DATABASE_URL's server), migrated once into a
 * template database; each test file clones its own database from it (test/helpers/db.ts).
 */
export async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-test-pg-"));
    // mkdtemp makes 0700; the postgres OS user (when we run as root) must traverse it.
    await fs.chmod(dir, 0o755);
    tempDir = dir;
    server = await startEmbeddedPostgres({
      dataDir: path.join(dir, "data"),
      persistent: false,
      postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300"],
    });
    adminUrl = server.url;
  }
  const admin = connect(adminUrl, { max: 1 });
  await admin.raw(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await admin.destroy();
  await ensureDatabase(adminUrl, TEMPLATE_DB);
  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB);
  const db = connect(templateUrl, { max: 2 });
  await migrate(db);
  await syncSeedCatalog(db);
  await db.destroy();
  // pg-boss creates its schema on first start; do it once here so every clone has it.
  const boss = createBoss(templateUrl, { supervise: false });
  await boss.start();
  await boss.stop({ graceful: false });
  project.provide("pgAdminUrl", adminUrl);
}

export async function teardown() {
  await server?.stop();
  if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
}
