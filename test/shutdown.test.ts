import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeItems, mustCreate } from "./helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { freePort, type Running, runTs, waitForOutput } from "./helpers/process.js";
import { call, registerAgent, startTestServer, type TestServer, waitFor } from "./helpers/server.js";

// SIGTERM on a real `npm start` process: it drains (readiness 503, new work refused, running work
// finishes) within SHUTDOWN_TIMEOUT_MS, then exits. A job is held in flight by a webhook receiver
// that answers when the test says; a request by a body that arrives in two halves.

const SECRET = "shutdown-test-platform-secret-0123456789";

interface Held {
  /** The delivery id (`webhook-id`). */
  id: string;
  res: http.ServerResponse;
}

/**
 * A webhook receiver that answers 200 at once, except the one delivery after each `holdNext()`: that
 * one it holds unanswered until the test does (its job stays in flight meanwhile).
 */
async function startReceiver() {
  let hold: { held?: Held } | null = null;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (hold && !hold.held) hold.held = { id: String(req.headers["webhook-id"]), res };
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    /** Holds the next delivery; the returned function waits for it to arrive. */
    holdNext() {
      const slot: { held?: Held } = {};
      hold = slot;
      return () => waitFor(() => slot.held, 20_000, "a webhook delivery to arrive (and be held)");
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A POST whose body is sent half now, half on `finish()`. `inFlight` resolves once the server has
 * taken the request (its `100 Continue`: Node answers that as it hands the request to the app).
 */
function halfSentPost(url: string, key: string, body: string) {
  const req = http.request(url, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      Expect: "100-continue",
    },
  });
  const inFlight = new Promise<void>((resolve) =>
    req.on("continue", () => {
      req.write(body.slice(0, body.length / 2));
      resolve();
    }),
  );
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
  });
  req.flushHeaders();
  return { inFlight, response, finish: () => req.end(body.slice(body.length / 2)) };
}

let database: TestDatabase;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let dataDir: string;
const running: Running[] = [];
beforeAll(async () => {
  [database, receiver] = await Promise.all([createTestDatabase(), startReceiver()]);
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-shutdown-"));
});
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  await receiver?.close();
  await database?.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>) {
  const r = runTs("server/main.ts", args, {
    DATABASE_URL: database.url,
    BATCHROUTER_DATA_DIR: dataDir,
    BATCHROUTER_SECRET: SECRET,
    BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS: "1",
    BATCHROUTER_SIMULATOR_TURNAROUND_MS: "0",
    LOG_LEVEL: "info",
    ...env,
  });
  running.push(r);
  return r;
}

describe("graceful shutdown", () => {
  it("on SIGTERM answers /readyz 503 while an in-flight request and job finish, then exits 0", async () => {
    const proc = start([], { PORT: String(await freePort()), SHUTDOWN_TIMEOUT_MS: "20000" });
    const base = (await waitForOutput(proc, /is running at (http:\/\/\S+)/))[1]!;
    const agent = await registerAgent(base);
    const held = receiver.holdNext();
    await mustCreate(base, agent.test_api_key, { items: makeItems(2, { prefix: "drain" }), delivery: { webhook_url: receiver.url } });
    const job = await held();
    const request = halfSentPost(`${base}/v1/auth/account/api-keys`, agent.api_key, JSON.stringify({ name: "created-while-draining" }));
    await request.inFlight;

    let exitedAt: number | undefined;
    void proc.exited.then(() => (exitedAt = Date.now()));
    const signalledAt = Date.now();
    proc.child.kill("SIGTERM");

    const notReady = await waitFor(
      async () => {
        const r = await call(base, "GET", "/readyz");
        return r.status === 503 ? r : undefined;
      },
      5_000,
      "/readyz to report draining",
    );
    expect(notReady.body.error).toMatchObject({ code: "service_unavailable", details: { draining: true }, request_id: expect.any(String) });
    expect((await call(base, "GET", "/healthz")).status).toBe(200); // alive, just leaving
    const refused = await call(base, "GET", "/v1/auth/account", { key: agent.api_key });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body.error).toMatchObject({ code: "service_unavailable", details: { draining: true } });
    expect(exitedAt).toBeUndefined(); // still waiting for the request and the job

    request.finish();
    const created = await request.response;
    expect(created.status).toBe(201);
    expect(created.body.name).toBe("created-while-draining");
    expect(exitedAt).toBeUndefined(); // the job is still held
    job.res.writeHead(200).end();

    expect(await proc.exited).toBe(0);
    expect(exitedAt! - signalledAt).toBeLessThan(20_000);
    // The job finished in this process: the delivery is recorded, not failed back for a retry.
    const delivery = await database.db("webhook_deliveries").where({ id: job.id }).first("status", "attempts");
    expect(delivery).toEqual({ status: "delivered", attempts: 1 });
  });

  describe("a worker-only process", () => {
    let api: TestServer;
    let agentKey: string;
    beforeAll(async () => {
      // The API runs in this process on the same database; the worker under test is its own process.
      api = await startTestServer({ BATCHROUTER_SECRET: SECRET }, { database });
      agentKey = (await registerAgent(api.base)).test_api_key;
    });
    afterAll(async () => api?.close());

    it("serves /metrics on METRICS_PORT, and at the bound exits 1 with the unfinished job back in the queue", async () => {
      const worker = start(["--role=worker"], { METRICS_PORT: "0", SHUTDOWN_TIMEOUT_MS: "1500" });
      const metricsUrl = (await waitForOutput(worker, /metrics at (http:\/\/\S+)/))[1]!;
      const scrape = await fetch(metricsUrl);
      expect(scrape.status).toBe(200);
      const text = await scrape.text();
      expect(text).toContain('batchrouter_queue_jobs{queue="wu.poll",state="queued"}');
      expect(text).toContain("process_cpu_user_seconds_total");

      const held = receiver.holdNext();
      await mustCreate(api.base, agentKey, { items: makeItems(1, { prefix: "bound" }), delivery: { webhook_url: receiver.url } });
      const job = await held(); // and never answered
      const signalledAt = Date.now();
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(1);
      const took = Date.now() - signalledAt;
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(1500 + 6000);
      expect(worker.output()).toContain("shutdown bound reached");
      // pg-boss failed the running job on the way out: it waits for its retry, the delivery still pending.
      const state = await database.db.raw("SELECT state FROM pgboss.job WHERE name = 'webhook.deliver' AND data->>'delivery_id' = ?", [
        job.id,
      ]);
      expect(state.rows).toEqual([{ state: "retry" }]);
      expect(await database.db("webhook_deliveries").where({ id: job.id }).first("status")).toEqual({ status: "pending" });
    });

    it("exits at once on a second signal while draining", async () => {
      const worker = start(["--role=worker"], { SHUTDOWN_TIMEOUT_MS: "20000" });
      await waitForOutput(worker, /BatchRouter worker is up/);
      const held = receiver.holdNext();
      await mustCreate(api.base, agentKey, { items: makeItems(1, { prefix: "twice" }), delivery: { webhook_url: receiver.url } });
      await held();
      worker.child.kill("SIGTERM");
      await waitForOutput(worker, /draining/);
      const secondAt = Date.now();
      worker.child.kill("SIGINT");
      expect(await worker.exited).toBe(130);
      expect(Date.now() - secondAt).toBeLessThan(2000);
    });
  });
});
