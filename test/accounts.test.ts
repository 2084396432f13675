import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../server/accounts/secrets.js";
import { newId } from "../server/ids.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ BATCHROUTER_TEST_CREDIT_USD: "25" });
});
afterAll(async () => srv?.close());

const money = expect.objectContaining({ amount: expect.stringMatching(/^-?\d+\.\d{6}$/), currency: "usd" });

describe("agent sign-up", () => {
  it("creates an org with a live and a test key from an empty body", async () => {
    const res = await call(srv.base, "POST", "/v1/auth/agent-register");
    expect(res.status).toBe(201);
    expect(res.body.org_id).toMatch(/^org_[0-9a-z]{26}$/);
    expect(res.body.api_key).toMatch(/^br_live_[A-Za-z0-9]{32}$/);
    expect(res.body.test_api_key).toMatch(/^br_test_[A-Za-z0-9]{32}$/);
    expect(res.body.api_key_id).toMatch(/^key_/);
    expect(res.body.environment).toBe("live");
    expect(res.body.credit_balance).toEqual({ amount: "0.000000", currency: "usd" });
  });

  it("answers /v1/auth/account with either key, each with its own balance", async () => {
    const agent = await registerAgent(srv.base, { agent_name: "summariser" });
    const live = await call(srv.base, "GET", "/v1/auth/account", { key: agent.api_key });
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({
      org_id: agent.org_id,
      name: "summariser",
      environment: "live",
      credit_balance: { amount: "0.000000", currency: "usd" },
      available_balance: money,
      reserved_balance: money,
    });
    const test = await call(srv.base, "GET", "/v1/auth/account", { key: agent.test_api_key });
    expect(test.body).toMatchObject({
      org_id: agent.org_id,
      environment: "test",
      credit_balance: { amount: "25.000000", currency: "usd" },
    });
  });

  it("creates a login user when email and password are given, and refuses a taken email", async () => {
    const body = { email: "agent@example.com", password: "correct horse battery" };
    const first = await call(srv.base, "POST", "/v1/auth/agent-register", { body });
    expect(first.status).toBe(201);
    expect(first.body.verification_required).toBe(true);
    const again = await call(srv.base, "POST", "/v1/auth/agent-register", { body: { ...body, email: "AGENT@example.com" } });
    expect(again.status).toBe(400);
    expect(again.body.error.details.errors[0].path).toBe("/email");
    const half = await call(srv.base, "POST", "/v1/auth/agent-register", { body: { email: "x@example.com" } });
    expect(half.status).toBe(400);
    expect(half.body.error.code).toBe("invalid_request");
  });
});

describe("API keys", () => {
  it("creates a key shown once, lists keys without secrets, and enforces scopes", async () => {
    const agent = await registerAgent(srv.base);
    const created = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      body: { label: "reader", scopes: ["read"] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "reader", scopes: ["read"], environment: "live", status: "active" });
    expect(created.body.api_key).toMatch(/^br_live_/);
    expect(created.body.prefix).toBe(created.body.api_key.slice(0, 12));

    const list = await call(srv.base, "GET", "/v1/auth/account/api-keys", { key: agent.api_key });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { id: string }) => k.id)).toContain(created.body.id);
    const listed = JSON.stringify(list.body);
    expect(listed).not.toContain(created.body.api_key);
    expect(listed).not.toContain(agent.api_key);
    expect(listed).not.toContain("secret_hash");

    const reader = created.body.api_key as string;
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: reader })).status).toBe(200);
    const denied = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: reader, body: {} });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("insufficient_scope");
    expect(denied.body.error.details.required_scope).toBe("keys");
  });

  it("stores only a hash of each secret", async () => {
    const agent = await registerAgent(srv.base);
    const rows = await srv.database.db("api_keys").where({ org_id: agent.org_id });
    expect(rows).toHaveLength(2);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(agent.api_key);
    expect(rows.map((r) => r.secret_hash)).toContain(hashSecret(agent.api_key));
  });

  it("rotates with a grace period, or at once with grace_seconds 0", async () => {
    const agent = await registerAgent(srv.base);
    const made = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { name: "rotating" } });
    const oldSecret = made.body.api_key as string;
    const rotated = await call(srv.base, "POST", `/v1/auth/account/api-keys/${made.body.id}/rotate`, { key: agent.api_key, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body.id).toBe(made.body.id);
    expect(rotated.body.api_key).not.toBe(oldSecret);
    expect(rotated.body.previous_secret_valid_until).not.toBeNull();
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: oldSecret })).status).toBe(200);
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: rotated.body.api_key })).status).toBe(200);

    const now = await call(srv.base, "POST", `/v1/auth/account/api-keys/${made.body.id}/rotate`, {
      key: agent.api_key,
      body: { grace_seconds: 0 },
    });
    expect(now.status).toBe(200);
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: rotated.body.api_key })).status).toBe(401);
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: now.body.api_key })).status).toBe(200);
  });

  it("revokes at once; revoked and expired keys get 401", async () => {
    const agent = await registerAgent(srv.base);
    const made = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: {} });
    const del = await call(srv.base, "DELETE", `/v1/auth/account/api-keys/${made.body.id}`, { key: agent.api_key });
    expect(del.status).toBe(200);
    expect(del.body.status).toBe("revoked");
    const after = await call(srv.base, "GET", "/v1/auth/account", { key: made.body.api_key });
    expect(after.status).toBe(401);
    expect(after.body.error.message).toMatch(/revoked/);

    const soon = new Date(Date.now() + 60_000).toISOString();
    const expiring = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { expires_at: soon } });
    expect(expiring.body.expires_at).toBe(soon);
    await srv.database
      .db("api_keys")
      .where({ id: expiring.body.id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await call(srv.base, "GET", "/v1/auth/account", { key: expiring.body.api_key });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired/);

    const past = await call(srv.base, "POST", "/v1/auth/account/api-keys", {
      key: agent.api_key,
      body: { expires_at: "2001-01-01T00:00:00Z" },
    });
    expect(past.status).toBe(400);
  });

  it("keeps orgs and environments apart: another org's or environment's key is 404", async () => {
    const a = await registerAgent(srv.base);
    const b = await registerAgent(srv.base);
    for (const [key, id] of [
      [b.api_key, a.api_key_id],
      [a.test_api_key, a.api_key_id],
    ] as const) {
      const rotate = await call(srv.base, "POST", `/v1/auth/account/api-keys/${id}/rotate`, { key, body: {} });
      expect(rotate.status).toBe(404);
      const revoke = await call(srv.base, "DELETE", `/v1/auth/account/api-keys/${id}`, { key });
      expect(revoke.status).toBe(404);
      expect(revoke.body.error.code).toBe("not_found");
    }
    const testList = await call(srv.base, "GET", "/v1/auth/account/api-keys", { key: a.test_api_key });
    expect(testList.body.data.map((k: { environment: string }) => k.environment)).toEqual(["test"]);
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: a.api_key })).status).toBe(200);
  });

  it("won't let a test key mint a live key, and test keys default to test", async () => {
    const agent = await registerAgent(srv.base);
    const live = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.test_api_key, body: { environment: "live" } });
    expect(live.status).toBe(403);
    expect(live.body.error.code).toBe("forbidden");
    const test = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.test_api_key, body: {} });
    expect(test.status).toBe(201);
    expect(test.body.api_key).toMatch(/^br_test_/);
  });

  it("accepts a legacy ob_live_ key as a live key", async () => {
    const agent = await registerAgent(srv.base);
    const legacy = "ob_live_LegacyKeyFromTheOldPlatform0001";
    await srv.database.db("api_keys").insert({
      id: newId("key"),
      org_id: agent.org_id,
      environment: "live",
      name: "legacy",
      prefix: "ob_live_Lega",
      secret_hash: hashSecret(legacy),
      scopes: ["read"],
    });
    const res = await call(srv.base, "GET", "/v1/auth/account", { key: legacy });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ org_id: agent.org_id, environment: "live" });
  });

  it("refuses a key whose prefix claims the other environment", async () => {
    const agent = await registerAgent(srv.base);
    const forged = agent.test_api_key.replace("br_test_", "br_live_");
    const res = await call(srv.base, "GET", "/v1/auth/account", { key: forged });
    expect(res.status).toBe(401);
    const rows = await srv.database.db("api_keys").where({ org_id: agent.org_id, environment: "test" });
    // Store the test secret under its live-looking twin's hash to prove the environment check, not the hash, refuses it.
    await srv.database
      .db("api_keys")
      .where({ id: rows[0].id })
      .update({ secret_hash: hashSecret(forged) });
    const crossed = await call(srv.base, "GET", "/v1/auth/account", { key: forged });
    expect(crossed.status).toBe(401);
    expect(crossed.body.error.message).toMatch(/test environment/);
  });
});
