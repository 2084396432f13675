import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { connect, withDatabase, type Db } from "../../db/connection.js";

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh database cloned from the migrated template: this test file's own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = connect(adminUrl, { max: 1 });
  await admin.raw(`CREATE DATABASE ${name} TEMPLATE app_template STRATEGY FILE_COPY`);
  await admin.destroy();
  const url = withDatabase(adminUrl, name);
  const db = connect(url, { max: 10 });
  return {
    url,
    db,
    async drop() {
      await db.destroy();
      const a = connect(adminUrl, { max: 1 });
      await a.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.destroy();
    },
  };
}
