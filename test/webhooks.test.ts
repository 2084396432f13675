import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { PgBoss } from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveKey, encrypt } from "../server/crypto.js";
import { createBoss } from "../server/jobs/boss.js";
import { createLogger } from "../server/logger.js";
import { JOBS } from "../server/jobs/contracts.js";
import { createJobSender, createQueues, type JobSender } from "../server/jobs/sender.js";
import { newId } from "../server/ids.js";
import { listDeliveries } from "../server/webhooks/deliveries.js";
import { buildEvent, notifyBatchWebhook, enqueueEvent, type BatchEventFacts } from "../server/webhooks/events.js";
import { verifyBatchRouterSignature, verifyStandardWebhook } from "../server/webhooks/signing.js";
import type { WebhookPost } from "../server/webhooks/sender.js";
import { deliverWebhook, USER_AGENT } from "../worker/jobs/deliver-webhook.js";
import { serveQueue } from "../worker/registry.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { waitFor } from "./helpers/wait.js";

// The whole path: a transaction enqueues → pg-boss → the worker signs and POSTs to a real receiver on loopback.
interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let database: TestDatabase;
let boss: PgBoss;
let jobs: JobSender;
let receiver: http.Server;
let base: string;
const received: Received[] = [];
const hits = new Map<string, number>();
// Per path: the status to answer on the n-th request (1-based).
const behaviour: Record<string, (n: number) => number> = {
  "/ok": () => 200,
  "/org-default": () => 204,
  "/flaky": (n) => (n <= 2 ? 500 : 200),
  "/down": () => 500,
};

const platformSecret = randomBytes(32);
const receiverSecret = `whsec_${randomBytes(24).toString("base64")}`;
const orgSecret = "org-default-secret-123";
const seal = (s: string) => encrypt(deriveKey(platformSecret, "webhook-secret"), s);
const orgId = newId("org");

async function insertBatch(webhook: { url: string; secret: string } | null): Promise<string> {
  const id = newId("bat");
  await database.db("batches").insert({
    id,
    org_id: orgId,
    environment: "test",
    status: "processing",
    item_count: 3,
    routing_mode: "cheapest",
    sla_tier: "standard",
    privacy_tier: "standard",
    allowed_regions: JSON.stringify(["global"]),
    constraints: JSON.stringify({}),
    fee_rate_bps: 500,
    quoted_subtotal_micros: 1000,
    quoted_fee_micros: 50,
    quoted_total_micros: 1050,
    reserved_micros: 1050,
    pricing_estimate: JSON.stringify({}),
    lanes_report: JSON.stringify([]),
    webhook_url: webhook?.url ?? null,
    webhook_secret_enc: webhook ? seal(webhook.secret) : null,
    sla_deadline: new Date(Date.now() + 86_400_000),
  });
  return id;
}

const facts = (batchId: string): BatchEventFacts => ({
  batch_id: batchId,
  status: "completed",
  items_total: 3,
  items_completed: 2,
  items_failed: 1,
  cost_micros: 1_050,
  output_file_url: null,
  error_file_url: null,
});

/** Enqueues one event to `path` in a committed transaction; returns the event id. */
async function enqueueTo(path: string): Promise<{ batchId: string; eventId: string }> {
  const url = `${base}${path}`;
  const batchId = await insertBatch({ url, secret: receiverSecret });
  const eventId = await database.db.transaction((trx) =>
    enqueueEvent(trx, jobs, {
      org_id: orgId,
      url,
      secretSealed: seal(receiverSecret),
      payload: buildEvent("batch.completed", facts(batchId)),
    }),
  );
  return { batchId, eventId };
}

const delivery = (id: string) => database.db("webhook_deliveries").where({ id }).first();
const ended = (id: string) =>
  waitFor(
    async () => {
      const row = await delivery(id);
      return row && row.status !== "pending" ? row : undefined;
    },
    20_000,
    `delivery ${id} to end`,
  );

beforeAll(async () => {
  database = await createTestDatabase();
  await database.db("orgs").insert({ id: orgId, name: "Hooks Inc" });
  receiver = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const path = req.url ?? "/";
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      received.push({ path, headers: req.headers, body });
      res.writeHead(behaviour[path]?.(n) ?? 404).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // The test environment's default webhook; the live one points elsewhere and must never be used.
  await database.db("delivery_webhooks").insert([
    { org_id: orgId, environment: "test", url: `${base}/org-default`, secret_enc: seal(orgSecret) },
    { org_id: orgId, environment: "live", url: `${base}/live-default`, secret_enc: seal("live-default-secret") },
  ]);

  boss = createBoss(database.url, { supervise: true });
  boss.on("error", () => undefined);
  await boss.start();
  // Immediate retries so eight attempts take seconds; the production backoff is tested in events.test.ts.
  await createQueues(boss, { webhook: { retryDelay: 0, retryBackoff: false } });
  jobs = createJobSender(boss);
  const hooks = { db: database.db, secret: platformSecret, allowPrivate: true };
  await serveQueue(
    boss,
    "webhook",
    { pollers: 4, pollingIntervalSeconds: 0.5, handle: async (p, run) => ({ outcome: await deliverWebhook(hooks, p, run) }) },
    createLogger("silent"),
  );
});

afterAll(async () => {
  await boss?.stop({ graceful: false });
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await database?.drop();
});

describe("webhook delivery", () => {
  it("POSTs the stored body once, with both signatures verifying", async () => {
    const { eventId, batchId } = await enqueueTo("/ok");
    const row = await ended(eventId);
    expect(row).toMatchObject({ status: "delivered", attempts: 1 });
    expect(row.delivered_at).toBeInstanceOf(Date);
    expect(row.attempt_log).toEqual([{ at: expect.any(String), status_code: 200, ms: expect.any(Number) }]);

    const got = received.filter((r) => r.path === "/ok");
    expect(got).toHaveLength(1);
    const [req] = got as [Received];
    expect(req.body).toBe(row.body);
    expect(JSON.parse(req.body)).toMatchObject({
      id: eventId,
      type: "batch.completed",
      event: "batch.completed",
      batch_id: batchId,
      data: { cost_usd: "0.001050" },
    });
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toBe(USER_AGENT);
    expect(req.headers["webhook-id"]).toBe(eventId);
    expect(verifyBatchRouterSignature(req.body, receiverSecret, req.headers)).toBe(true);
    expect(verifyStandardWebhook(req.body, receiverSecret, req.headers)).toEqual({ ok: true });
    expect(verifyStandardWebhook(req.body.replace("completed", "failed"), receiverSecret, req.headers).ok).toBe(false);
  });

  it("retries a receiver that fails twice, then logs 3 attempts and delivers", async () => {
    const { eventId, batchId } = await enqueueTo("/flaky");
    const row = await ended(eventId);
    expect(row).toMatchObject({ status: "delivered", attempts: 3 });
    expect(row.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 200]);
    expect(hits.get("/flaky")).toBe(3);
    // Every attempt carries the same webhook-id, so a receiver can de-duplicate.
    expect(new Set(received.filter((r) => r.path === "/flaky").map((r) => r.headers["webhook-id"]))).toEqual(new Set([eventId]));

    const log = await listDeliveries(database.db, orgId, "test", batchId);
    expect(log).toMatchObject({ object: "list", has_more: false, next_cursor: null });
    expect(log.data).toEqual([
      {
        id: eventId,
        object: "webhook_delivery",
        type: "batch.completed",
        url: `${base}/flaky`,
        status: "delivered",
        attempts: 3,
        attempt_log: row.attempt_log,
        created_at: expect.any(String),
        delivered_at: (row.delivered_at as Date).toISOString(),
      },
    ]);
    expect((await listDeliveries(database.db, orgId, "live", batchId)).data).toEqual([]);
    expect((await listDeliveries(database.db, newId("org"), undefined, batchId)).data).toEqual([]);
  });

  it("gives up after 8 attempts against a receiver that always fails", async () => {
    const { eventId } = await enqueueTo("/down");
    const row = await ended(eventId);
    expect(row).toMatchObject({ status: "failed", attempts: 8, delivered_at: null });
    expect(row.attempt_log).toHaveLength(8);
    expect(row.attempt_log.every((a: { status_code: number }) => a.status_code === 500)).toBe(true);
    expect(hits.get("/down")).toBe(8);
    const open = await database.db.raw(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = ? AND data->>'delivery_id' = ? AND state < 'completed'`,
      [JOBS.webhook.name, eventId],
    );
    expect(open.rows[0].n).toBe(0);
  });

  it("sends nothing when the enqueuing transaction rolls back", async () => {
    const url = `${base}/ok`;
    const batchId = await insertBatch({ url, secret: receiverSecret });
    const payload = buildEvent("batch.failed", facts(batchId));
    await expect(
      database.db.transaction(async (trx) => {
        await enqueueEvent(trx, jobs, { org_id: orgId, url, secretSealed: seal(receiverSecret), payload });
        throw new Error("the state change failed");
      }),
    ).rejects.toThrow("the state change failed");
    expect(await delivery(payload.id)).toBeUndefined();
    const queued = await database.db.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'delivery_id' = ?`, [payload.id]);
    expect(queued.rows[0].n).toBe(0);
  });

  it("sends a batch without its own webhook to its environment's default, signed with that secret; progress at most every 30 s", async () => {
    const batchId = await insertBatch(null);
    const emit = (type: "batch.progress" | "batch.submitted") =>
      database.db.transaction((trx) => notifyBatchWebhook(trx, jobs, type, facts(batchId)));
    const submitted = await emit("batch.submitted");
    const progress = await emit("batch.progress");
    expect(await emit("batch.progress")).toBeNull();
    for (const id of [submitted, progress]) expect((await ended(id!)).status).toBe("delivered");
    const got = received.filter((r) => r.path === "/org-default");
    expect(got.map((r) => JSON.parse(r.body).type).sort()).toEqual(["batch.progress", "batch.submitted"]);
    for (const r of got) expect(verifyStandardWebhook(r.body, orgSecret, r.headers)).toEqual({ ok: true });
    expect(received.filter((r) => r.path === "/live-default")).toEqual([]);
    expect((await listDeliveries(database.db, orgId, "test", batchId)).data.map((d) => d.id)).toEqual([progress, submitted]);
  });

  it("refuses a private target when private webhooks are not allowed: one failed attempt, no request", async () => {
    const calls: unknown[] = [];
    const post: WebhookPost = async (target) => {
      calls.push(target);
      return { status: 200 };
    };
    const deps = {
      db: database.db,
      secret: platformSecret,
      allowPrivate: false,
      post,
      resolve: async () => [{ address: "127.0.0.1", family: 4 as const }],
    };
    const ids: string[] = [];
    for (const url of ["https://hooks.example.com/in", `${base}/ok`]) {
      // Inserted without a job: the test's worker allows private targets, so this attempt is run directly.
      const batchId = await insertBatch({ url, secret: receiverSecret });
      const event = buildEvent("batch.completed", facts(batchId));
      ids.push(event.id);
      await database
        .db("webhook_deliveries")
        .insert({ id: event.id, batch_id: batchId, org_id: orgId, type: event.type, url, body: JSON.stringify(event), status: "pending" });
      const outcome = await deliverWebhook(deps, { delivery_id: event.id, secret_sealed: seal(receiverSecret) });
      expect(outcome).toBe("failed");
      const row = await delivery(event.id);
      expect(row).toMatchObject({ status: "failed", attempts: 1 });
      expect(row.attempt_log).toEqual([{ at: expect.any(String), error: expect.stringMatching(/^refused: /), ms: expect.any(Number) }]);
      // Idempotent: running the job again does nothing.
      expect(await deliverWebhook(deps, { delivery_id: event.id, secret_sealed: seal(receiverSecret) })).toBe("skipped");
    }
    expect(calls).toEqual([]);
    expect(received.filter((r) => ids.includes(r.headers["webhook-id"] as string))).toEqual([]);
  });
});
