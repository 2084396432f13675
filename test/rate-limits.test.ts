import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// Two API processes on one database, as behind a load balancer: the limits must hold across both.
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  const env = { RATE_LIMIT_PER_KEY_PER_MIN: "5", RATE_LIMIT_PER_IP_PER_MIN: "40", AGENT_REGISTER_PER_IP_PER_HOUR: "3" };
  a = await startTestServer(env);
  b = await startTestServer(env, { database: a.database });
});
afterAll(async () => {
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

  it("limits agent sign-up per IP", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(i % 2 ? a.base : b.base, "POST", "/v1/auth/agent-register")).status);
    // One registration already happened in the previous test (through a).
    expect(statuses).toEqual([201, 201, 429, 429]);
    const orgs = await a.database.db("orgs").count<{ count: string }[]>("id as count");
    expect(Number(orgs[0]!.count)).toBe(3);
  });

  it("limits every request per IP, authenticated or not", async () => {
    let last = 200;
    for (let i = 0; i < 45 && last !== 429; i++) last = (await call(a.base, "GET", "/v1/capabilities")).status;
    expect(last).toBe(429);
    // Health probes stay exempt.
    expect((await call(a.base, "GET", "/healthz")).status).toBe(200);
  });
});
