import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "./helpers/server.js";
import { createTestDatabase } from "./helpers/db.js";
import { freePort, runTs, runToEnd, waitForOutput } from "./helpers/process.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function tempDir() {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-platform-"));
  await fs.chmod(d, 0o755);
  dirs.push(d);
  return d;
}

async function start(env: Record<string, string>, args: string[] = []) {
  const r = runTs("server/main.ts", args, env);
  const m = await waitForOutput(r, /is running at (http:\/\/\S+)/);
  return { ...r, base: m[1]! };
}

const pidFile = (dataDir: string) => path.join(dataDir, "pg", "postmaster.pid");
const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

describe("npm start on the embedded PostgreSQL", () => {
  it("starts, stops cleanly, reuses its data, survives a SIGKILL, and serves the operator CLI meanwhile", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { BATCHROUTER_DATA_DIR: dataDir, PORT: String(await freePort()) };

    const first = await start(env);
    const reg = await call(first.base, "POST", "/v1/auth/agent-register");
    expect(reg.status).toBe(201);
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(await exists(pidFile(dataDir))).toBe(false); // the database stopped with it

    const second = await start(env);
    const account = await call(second.base, "GET", "/v1/auth/account", { key: reg.body.api_key });
    expect(account.status).toBe(200);
    expect(account.body.org_id).toBe(reg.body.org_id);
    second.child.kill("SIGKILL");
    await second.exited;
    expect(await exists(pidFile(dataDir))).toBe(true); // an orphaned server holds the data dir

    const third = await start(env);
    expect((await call(third.base, "GET", "/v1/auth/account", { key: reg.body.api_key })).status).toBe(200);

    const grant = await runToEnd("server/admin/cli.ts", ["credits", "grant", reg.body.org_id, "7.25", "--reason", "test grant"], env);
    expect(grant.output).toContain("Granted 7.250000 USD");
    expect(grant.code).toBe(0);
    const funded = await call(third.base, "GET", "/v1/auth/account", { key: reg.body.api_key });
    expect(funded.body.credit_balance.amount).toBe("7.250000");
    const ledger = await call(third.base, "GET", "/v1/billing/ledger", { key: reg.body.api_key });
    expect(ledger.body.data[0]).toMatchObject({ kind: "promo_grant", description: "test grant" });

    const made = await runToEnd("server/admin/cli.ts", ["keys", "create", reg.body.org_id], env);
    expect(made.code).toBe(0);
    const secret = /br_live_[A-Za-z0-9]{32}/.exec(made.output)![0];
    expect((await call(third.base, "GET", "/v1/auth/account", { key: secret })).body.org_id).toBe(reg.body.org_id);

    const bad = await runToEnd("server/admin/cli.ts", ["credits", "grant", "org_nope", "1"], env);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("no organisation org_nope");

    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
  });

  it("runs the API and the worker as separate processes on one DATABASE_URL", async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url, PORT: String(await freePort()), LOG_LEVEL: "info" };
      const worker = runTs("server/main.ts", ["--role=worker"], env);
      await waitForOutput(worker, /BatchRouter worker is up/);
      const api = await start(env, ["--role=api"]);
      expect((await call(api.base, "GET", "/readyz")).status).toBe(200);
      expect((await call(api.base, "POST", "/v1/auth/agent-register")).status).toBe(201);
      api.child.kill("SIGTERM");
      worker.child.kill("SIGTERM");
      expect(await api.exited).toBe(0);
      expect(await worker.exited).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it("refuses an unknown role with a readable message", async () => {
    const r = await runToEnd("server/main.ts", ["--role=both"], { DATABASE_URL: "postgres://127.0.0.1:1/none" });
    expect(r.code).toBe(1);
    expect(r.output).toContain("--role must be api, worker or all");
  });
});
