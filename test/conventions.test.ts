import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
const logLines: string[] = [];
beforeAll(async () => {
  srv = await startTestServer({}, { logLines });
});
afterAll(async () => srv?.close());

describe("request ids and the error envelope", () => {
  it("echoes a client X-Request-Id and puts it in error bodies", async () => {
    const res = await call(srv.base, "GET", "/v1/nowhere", { headers: { "X-Request-Id": "client-req-42" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("client-req-42");
    expect(res.body).toEqual({ error: { code: "not_found", message: expect.any(String), details: {}, request_id: "client-req-42" } });
  });

  it("mints a request id when none (or an unsafe one) is sent", async () => {
    const res = await call(srv.base, "GET", "/healthz", { headers: { "X-Request-Id": "bad id with spaces" } });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-z]{26}$/);
  });

  it("answers an unsupported method on a known path in the envelope", async () => {
    const res = await call(srv.base, "PATCH", "/v1/auth/account");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});

describe("body handling", () => {
  it("rejects malformed JSON with invalid_json", async () => {
    const agent = await registerAgent(srv.base);
    const res = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: "{not json" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_json");
  });

  it("rejects a non-JSON content type with 415", async () => {
    const agent = await registerAgent(srv.base);
    const res = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      body: "name=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("rejects bodies over 10 MB with 413", async () => {
    const big = JSON.stringify({ agent_name: "x".repeat(11 * 1024 * 1024) });
    const res = await call(srv.base, "POST", "/v1/auth/agent-register", { body: big });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("reports each invalid field with a JSON-Pointer path", async () => {
    const agent = await registerAgent(srv.base);
    const res = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      body: { name: 42, scopes: ["read", "fly"], surprise: true },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    const paths = res.body.error.details.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(["/", "/name", "/scopes/1"]);
  });
});

describe("Idempotency-Key", () => {
  it("replays the first response for the same key and body, and creates one object", async () => {
    const agent = await registerAgent(srv.base);
    const opts = { key: agent.api_key, body: { name: "idem" }, headers: { "Idempotency-Key": "create-key-0001" } };
    const first = await call(srv.base, "POST", "/v1/auth/account/api-keys", opts);
    const second = await call(srv.base, "POST", "/v1/auth/account/api-keys", opts);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    // The same answer, except the secret: it is shown once (test/security-keys-webhooks.test.ts).
    expect(second.body).toEqual({ ...first.body, api_key: null });
    const list = await call(srv.base, "GET", "/v1/auth/account/api-keys", { key: agent.api_key });
    expect(list.body.data.filter((k: { name: string }) => k.name === "idem")).toHaveLength(1);
  });

  it("treats the same JSON with other key order or spacing as the same body", async () => {
    const agent = await registerAgent(srv.base);
    const h = { "Idempotency-Key": "order-insensitive" };
    const a = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      headers: h,
      body: '{"name":"n","scopes":["read"]}',
    });
    const b = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      headers: h,
      body: '{ "scopes": ["read"], "name": "n" }',
    });
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.id).toBe(a.body.id);
  });

  it("answers 409 idempotency_conflict for the same key with another body", async () => {
    const agent = await registerAgent(srv.base);
    const h = { "Idempotency-Key": "conflict-key-1" };
    await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, headers: h, body: { name: "one" } });
    const res = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, headers: h, body: { name: "two" } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("idempotency_conflict");
  });

  it("refuses keys shorter than 8 or longer than 128 characters", async () => {
    const agent = await registerAgent(srv.base);
    for (const k of ["short", "x".repeat(129)]) {
      const res = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
        key: agent.api_key,
        headers: { "Idempotency-Key": k },
        body: {},
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("idempotency_key_invalid");
    }
  });

  it("lets concurrent requests with one key create exactly one object", async () => {
    const agent = await registerAgent(srv.base);
    const opts = { key: agent.api_key, body: { name: "racer" }, headers: { "Idempotency-Key": "concurrent-0001" } };
    const results = await Promise.all(Array.from({ length: 12 }, () => call(srv.base, "POST", "/v1/auth/account/api-keys", opts)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe("idempotency_key_in_use");
    const ids = new Set(results.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const list = await call(srv.base, "GET", "/v1/auth/account/api-keys", { key: agent.api_key });
    expect(list.body.data.filter((k: { name: string }) => k.name === "racer")).toHaveLength(1);
  });

  it("scopes keys to the org, and doesn't store validation failures", async () => {
    const a = await registerAgent(srv.base);
    const b = await registerAgent(srv.base);
    const h = { "Idempotency-Key": "shared-between-orgs" };
    const ra = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: a.api_key, headers: h, body: { name: "a" } });
    const rb = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: b.api_key, headers: h, body: { name: "b" } });
    expect(rb.status).toBe(201);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(rb.body.id).not.toBe(ra.body.id);

    const h2 = { "Idempotency-Key": "fix-and-retry-01" };
    const bad = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: a.api_key, headers: h2, body: { scopes: [] } });
    expect(bad.status).toBe(400);
    const fixed = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: a.api_key, headers: h2, body: { scopes: ["read"] } });
    expect(fixed.status).toBe(201);
  });

  it("replays a business error such as 404 instead of re-running it", async () => {
    const agent = await registerAgent(srv.base);
    const h = { "Idempotency-Key": "rotate-missing-1" };
    const first = await call(srv.base, "POST", "/v1/auth/account/api-keys/key_missing/rotate", {
      key: agent.api_key,
      headers: h,
      body: {},
    });
    const second = await call(srv.base, "POST", "/v1/auth/account/api-keys/key_missing/rotate", {
      key: agent.api_key,
      headers: h,
      body: {},
    });
    expect(first.status).toBe(404);
    expect(second.status).toBe(404);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
  });
});

describe("logs", () => {
  it("carry the request id and org id, never a key or password", async () => {
    const agent = await registerAgent(srv.base, { email: "log-check@example.com", password: "hunter2hunter2" });
    await call(srv.base, "GET", "/v1/auth/account", { key: agent.api_key, headers: { "X-Request-Id": "log-check-1" } });
    const text = logLines.join("\n");
    const line = logLines.map((l) => JSON.parse(l)).find((l) => l.request_id === "log-check-1");
    expect(line).toMatchObject({ org_id: agent.org_id, path: "/v1/auth/account", status: 200 });
    expect(text).not.toContain(agent.api_key);
    expect(text).not.toContain(agent.test_api_key);
    expect(text).not.toContain("hunter2hunter2");
  });
});
