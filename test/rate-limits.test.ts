import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// Two API processes on one database, as behind a load balancer: the limits must hold across both.
// The counters live in that database, so each test gets a fresh one (and a fresh pair of servers)
// and starts from full budgets, whatever ran before it.
let a: TestServer;
let b: TestServer;
beforeEach(async () => {
  const env = { RATE_LIMIT_PER_KEY_PER_MIN: "5", RATE_LIMIT_PER_IP_PER_MIN: "40", AGENT_REGISTER_PER_IP_PER_HOUR: "3" };
  a = await startTestServer(env);
  b = await startTestServer(env, { database: a.database });
});
afterEach(async () => {
  await b?.close();
  await a?.close();
});

describe("rate limits", () => {
  it("limits each key across processes, with RateLimit-* headers and Retry-After", async () => {
    const agent = await registerAgent(a.base);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(i % 2 ? b.base : a.base, "GET", "/v1/auth/account", { key: agent.api_key });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBe("5");
      seen.push(Number(res.headers.get("ratelimit-remaining")));
      expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    }
    expect(seen).toEqual([4, 3, 2, 1, 0]);
    const over = await call(b.base, "GET", "/v1/auth/account", { key: agent.api_key });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("rate_limited");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another key of the same org has its own budget.
    expect((await call(a.base, "GET", "/v1/auth/account", { key: agent.test_api_key })).status).toBe(200);
  });

  it("limits agent sign-up per IP, across processes", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(i % 2 ? a.base : b.base, "POST", "/v1/auth/agent-register")).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const refused = await call(a.base, "POST", "/v1/auth/agent-register");
    expect(refused.body.error.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    // Refused sign-ups create nothing.
    const orgs = await a.database.db("orgs").count<{ count: string }[]>("id as count");
    expect(Number(orgs[0]!.count)).toBe(3);
  });

  it("limits every request per IP, authenticated or not, across processes", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++) statuses.push((await call(i % 2 ? b.base : a.base, "GET", "/v1/capabilities")).status);
    // A fresh budget of 40: exactly the 41st request is refused.
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses[40]).toBe(429);
    // Health probes stay exempt.
    expect((await call(a.base, "GET", "/healthz")).status).toBe(200);
  });
});
