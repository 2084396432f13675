import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../db/embedded-process.js";
import { verifyBatchRouterSignature } from "../server/webhooks/signing.js";
import { idemKey, makeItems, mustCreate, createBatch, untilTerminal } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

// Issue 9, security items 1–3 and 12: secrets shown once, scopes only narrow, one default webhook
// per environment, and every batch webhook signed — each through the real HTTP stack.

let srv: TestServer;
let receiver: http.Server;
let hookBase: string;
const received: { path: string; body: string; headers: http.IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url ?? "/", body, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // A known port, so the links in webhook events (built from the public base URL) can be followed.
  const port = await freePort();
  srv = await startTestServer({ PORT: String(port) }, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

const idempotencyRows = () => srv.database.db("idempotency_keys").select("response_body");
const secretStored = async (secret: string) => (await idempotencyRows()).some((r) => String(r.response_body).includes(secret));

describe("secrets are shown once: an idempotent replay never hands one out again", () => {
  it("create and rotate: the replay answers the key without its secret, and the store never holds it", async () => {
    const agent = await registerAgent(srv.base);
    const headers = { "Idempotency-Key": idemKey("mint") };
    const first = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { name: "ci" }, headers });
    expect(first.status).toBe(201);
    expect(first.body.api_key).toMatch(/^br_live_/);
    const replay = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { name: "ci" }, headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toMatchObject({ id: first.body.id, name: "ci", api_key: null });
    expect(await secretStored(first.body.api_key)).toBe(false);

    const rotateHeaders = { "Idempotency-Key": idemKey("rotate") };
    const path = `/v1/auth/account/api-keys/${first.body.id}/rotate`;
    const rotated = await call(srv.base, "POST", path, { key: agent.api_key, body: {}, headers: rotateHeaders });
    expect(rotated.body.api_key).toMatch(/^br_live_/);
    await call(srv.base, "DELETE", `/v1/auth/account/api-keys/${first.body.id}`, { key: agent.api_key });
    const again = await call(srv.base, "POST", path, { key: agent.api_key, body: {}, headers: rotateHeaders });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.api_key).toBeNull();
    expect(await secretStored(rotated.body.api_key)).toBe(false);
  });

  it("agent-register: a replay from the same address gets the account ids, not its two keys", async () => {
    const headers = { "Idempotency-Key": idemKey("register") };
    const first = await call(srv.base, "POST", "/v1/auth/agent-register", { body: { agent_name: "once" }, headers });
    expect(first.status).toBe(201);
    const replay = await call(srv.base, "POST", "/v1/auth/agent-register", { body: { agent_name: "once" }, headers });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toMatchObject({ org_id: first.body.org_id, api_key_id: first.body.api_key_id, api_key: null, test_api_key: null });
    expect(await secretStored(first.body.api_key)).toBe(false);
    expect(await secretStored(first.body.test_api_key)).toBe(false);
  });
});

describe("scopes only narrow", () => {
  it("a keys-only key can't mint, rotate or revoke a key with scopes it lacks; by default it grants its own", async () => {
    const agent = await registerAgent(srv.base);
    const keysOnly = (await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { scopes: ["keys"] } })).body;
    const count = async () => (await srv.database.db("api_keys").where({ org_id: agent.org_id }).count<{ n: string }[]>("* as n"))[0]!.n;
    const before = await count();

    const all = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: keysOnly.api_key,
      body: { scopes: ["quote", "submit", "read", "cancel", "feedback", "billing", "keys"] },
    });
    expect(all.status).toBe(403);
    expect(all.body.error.code).toBe("forbidden");
    expect(all.body.error.details.missing_scopes.sort()).toEqual(["billing", "cancel", "feedback", "quote", "read", "submit"]);
    for (const action of ["rotate", "revoke"] as const) {
      const res =
        action === "rotate"
          ? await call(srv.base, "POST", `/v1/auth/account/api-keys/${agent.api_key_id}/rotate`, { key: keysOnly.api_key, body: {} })
          : await call(srv.base, "DELETE", `/v1/auth/account/api-keys/${agent.api_key_id}`, { key: keysOnly.api_key });
      expect(res.status, action).toBe(403);
    }
    expect(await count()).toBe(before);
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: agent.api_key })).status).toBe(200); // the full key still works

    const byDefault = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: keysOnly.api_key, body: {} });
    expect(byDefault.status).toBe(201);
    expect(byDefault.body.scopes).toEqual(["keys"]);
    const narrower = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { scopes: ["read"] } });
    expect(narrower.body.scopes).toEqual(["read"]);
  });
});

describe("a rotated-out secret", () => {
  it("keeps working for the API during its grace period, but can't manage keys", async () => {
    const agent = await registerAgent(srv.base);
    const made = (await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { name: "rotating" } })).body;
    const rotated = await call(srv.base, "POST", `/v1/auth/account/api-keys/${made.id}/rotate`, {
      key: made.api_key,
      body: { grace_seconds: 3600 },
    });
    expect(rotated.status).toBe(200);
    const old = made.api_key as string;
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: old })).status).toBe(200);
    const takeover = await call(srv.base, "POST", `/v1/auth/account/api-keys/${made.id}/rotate`, { key: old, body: { grace_seconds: 0 } });
    expect(takeover.status).toBe(403);
    expect(takeover.body.error.code).toBe("forbidden");
    expect((await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: old, body: {} })).status).toBe(403);
    // The current secret still rotates.
    expect(
      (await call(srv.base, "POST", `/v1/auth/account/api-keys/${made.id}/rotate`, { key: rotated.body.api_key, body: {} })).status,
    ).toBe(200);
  });
});

describe("the default delivery webhook belongs to one environment", () => {
  it("a test key's webhook neither changes the live one nor receives live events, and the other way round", async () => {
    const agent = await registerAgent(srv.base);
    const put = (key: string, path: string) =>
      call(srv.base, "PUT", "/v1/auth/account/delivery-webhook", {
        key,
        body: { url: `${hookBase}${path}`, secret: `${path}-secret-123` },
      });
    expect((await put(agent.api_key, "/live-hook")).status).toBe(200);
    expect((await put(agent.test_api_key, "/test-hook")).status).toBe(200);
    const live = await call(srv.base, "GET", "/v1/auth/account/delivery-webhook", { key: agent.api_key });
    const test = await call(srv.base, "GET", "/v1/auth/account/delivery-webhook", { key: agent.test_api_key });
    expect(live.body).toMatchObject({ url: `${hookBase}/live-hook`, secret_last4: "-123" });
    expect(test.body.url).toBe(`${hookBase}/test-hook`);

    const batch = await mustCreate(srv.base, agent.test_api_key, { items: makeItems(2, { prefix: "env" }) });
    await untilTerminal(srv.base, agent.test_api_key, batch.id);
    const events = await waitFor(
      async () => {
        const got = received.filter((r) => r.body.includes(batch.id));
        return got.some((r) => JSON.parse(r.body).type === "batch.completed") ? got : undefined;
      },
      20_000,
      "the test batch's events",
    );
    expect(new Set(events.map((e) => e.path))).toEqual(new Set(["/test-hook"]));
    for (const e of events)
      expect(verifyBatchRouterSignature(e.body, "/test-hook-secret-123", e.headers["x-batchrouter-signature"] as string)).toBe(true);

    await call(srv.base, "DELETE", "/v1/auth/account/delivery-webhook", { key: agent.test_api_key });
    expect((await call(srv.base, "GET", "/v1/auth/account/delivery-webhook", { key: agent.api_key })).body.url).toBe(
      `${hookBase}/live-hook`,
    );
  });
});

describe("a batch webhook without a secret is signed, never dropped", () => {
  it("makes the environment's signing secret on demand, shows it once, and sends absolute signed file links", async () => {
    const agent = await registerAgent(srv.base);
    const body = { items: makeItems(2, { prefix: "flowb" }), delivery: { webhook_url: `${hookBase}/flow-b` } };
    const key = idemKey("flowb");
    const created = await createBatch(srv.base, agent.test_api_key, body, key);
    expect(created.status).toBe(202);
    const secret = created.body.batch.webhook.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(created.body.batch.webhook.url).toBe(`${hookBase}/flow-b`);
    const replay = await createBatch(srv.base, agent.test_api_key, body, key);
    expect(replay.body.batch.id).toBe(created.body.batch.id);
    expect(replay.body.batch.webhook.secret).toBeNull();
    expect(await secretStored(secret)).toBe(false);
    // The secret is now the test environment's: shown by its last 4 characters only.
    const hook = await call(srv.base, "GET", "/v1/auth/account/delivery-webhook", { key: agent.test_api_key });
    expect(hook.body).toEqual({ object: "delivery_webhook", url: null, secret_last4: secret.slice(-4) });

    const second = await mustCreate(srv.base, agent.test_api_key, { ...body, items: makeItems(1, { prefix: "flowb2" }) });
    expect(second.webhook).toEqual({ url: `${hookBase}/flow-b` });

    await untilTerminal(srv.base, agent.test_api_key, created.body.batch.id);
    const completed = await waitFor(
      async () => received.find((r) => r.body.includes(created.body.batch.id) && JSON.parse(r.body).type === "batch.completed"),
      20_000,
      "the batch.completed webhook",
    );
    expect(verifyBatchRouterSignature(completed.body, secret, completed.headers["x-batchrouter-signature"] as string)).toBe(true);
    const link = JSON.parse(completed.body).data.output_file_url as string;
    expect(link.startsWith(`${srv.base}/v1/artifacts/download?`)).toBe(true);
    const file = await fetch(link);
    expect(file.status).toBe(200);
    const lines = (await file.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.customer_item_id).sort()).toEqual(["flowb-0", "flowb-1"]);
  });
});
