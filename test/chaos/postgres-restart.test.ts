import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Db, ensureDatabase, withDatabase } from "../../db/connection.js";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "../../db/embedded.js";
import { makeItems, mustCreate, untilTerminal } from "../helpers/batches.js";
import { freePort } from "../helpers/process.js";
import { call, registerAgent, waitFor } from "../helpers/server.js";
import { Cluster } from "./helpers/cluster.js";
import { expectBatchWhole } from "./helpers/invariants.js";

// Issue 13 part 5: PostgreSQL restarted mid-batch. This file runs its own embedded server (the
// suite's shared one can't be stopped under the other files), stops it while a batch is at the
// simulator and starts it again on the same data directory and port. The API and worker processes
// are not restarted: they must reconnect by themselves, and the batch must complete.

let root: string;
let port: number;
let pg: EmbeddedPostgresHandle;
let db: Db;
let cluster: Cluster;

const startPg = () =>
  startEmbeddedPostgres({
    dataDir: path.join(root, "pg"),
    port,
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
  });

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-chaos-pg-"));
  await fs.chmod(root, 0o755); // the postgres OS user must traverse it when we run as root
  port = await freePort();
  pg = await startPg();
  await ensureDatabase(pg.url, "chaos");
  const url = withDatabase(pg.url, "chaos");
  db = connect(url, { max: 2 });
  cluster = await Cluster.create(url, {
    BATCHROUTER_SIMULATOR: JSON.stringify({ turnaroundMs: 500, laneTurnaroundMs: { "anthropic/*": 3000 } }),
  });
});
afterAll(async () => {
  await cluster?.close();
  await db?.destroy();
  await pg?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe("PostgreSQL restarted mid-batch", () => {
  it("the API and worker processes reconnect by themselves and the batch completes, billed once", async () => {
    // Both processes start on an empty database: they migrate it and create the queues themselves.
    const api = await cluster.start("api");
    const worker = await cluster.start("worker");
    const agent = await registerAgent(api.base);
    const key = agent.test_api_key;
    const items = [...makeItems(6000, { prefix: "mini" }), ...makeItems(500, { prefix: "haiku", model: "claude-haiku-4" })];
    const batch = await mustCreate(api.base, key, { items });
    // Work in flight: the outage lands while the worker runs a step of the batch (a submit, or a
    // poll collecting results), so its queries and pg-boss's settling of the job meet a dead server.
    await waitFor(
      async () => {
        const active = await db.withSchema("pgboss").from("job").where({ state: "active" }).whereIn("name", ["wu.submit", "wu.poll"]);
        return active.length > 0 ? true : undefined;
      },
      30_000,
      "the worker in the middle of a batch step",
      5,
    );

    await db.destroy(); // the test's own pool goes down with the server too
    await pg.stop();
    // While the database is down the API answers, with an error, and does not die.
    const down = await call(api.base, "GET", `/v1/batches/${batch.id}`, { key });
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect((await call(api.base, "GET", "/readyz")).status).toBe(503);
    pg = await startPg();
    db = connect(cluster.databaseUrl, { max: 2 });

    // Well within the jobs' expiry (minutes): the batch does not wait for pg-boss to give up on a job.
    const done = await untilTerminal(api.base, key, batch.id, 60_000);
    expect(done.status).toBe("completed");
    expect((await call(api.base, "GET", "/readyz")).status).toBe(200);
    // The very same processes: nothing restarted them.
    expect(cluster.alive()).toEqual([api, worker]);
    const { completed } = await expectBatchWhole({
      db,
      base: api.base,
      key,
      orgId: agent.org_id,
      environment: "test",
      batchId: batch.id,
      customerItemIds: items.map((i) => i.customer_item_id),
    });
    expect(completed).toHaveLength(items.length);
    // New work after the restart runs too.
    const after = await mustCreate(api.base, key, { items: makeItems(5, { prefix: "after" }) });
    expect((await untilTerminal(api.base, key, after.id, 60_000)).status).toBe("completed");
  }, 240_000);
});
