import type { AddressInfo, Socket } from "node:net";
import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import knexFactory from "knex";
import { connect, sidePool, type Db } from "../db/connection.js";
import { createApp } from "../server/http/app.js";
import { listen } from "../server/http/listen.js";
import { SyncedRateLimiter } from "../server/http/synced-rate-limiter.js";
import { createLogger } from "../server/logger.js";
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

  it("shows the limit closest to refusing: the address's once it has fewer left than the key's", async () => {
    const agent = await registerAgent(a.base); // the address's first point (of 40)
    const limits = (res: { headers: Headers }) => ["limit", "remaining"].map((h) => res.headers.get(`ratelimit-${h}`)).join("/");
    // The key's budget (5) binds while the address has more left.
    expect(limits(await call(a.base, "GET", "/v1/auth/account", { key: agent.api_key }))).toBe("5/4");
    for (let i = 0; i < 37; i++) expect((await call(i % 2 ? a.base : b.base, "GET", "/v1/capabilities")).status).toBe(200);
    // 39 of the address's 40 spent: this request takes its last, while its key has 4 left.
    expect(limits(await call(b.base, "GET", "/v1/auth/account", { key: agent.test_api_key }))).toBe("40/0");
    const refused = await call(a.base, "GET", "/v1/auth/account", { key: agent.test_api_key });
    expect(refused.status).toBe(429);
    expect(limits(refused)).toBe("40/0");
    expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("shows the headers on /mcp answers too, which the MCP transport writes itself", async () => {
    const agent = await registerAgent(a.base);
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    };
    const res = await call(a.base, "POST", "/mcp", {
      key: agent.api_key,
      body: initialize,
      headers: { Accept: "application/json, text/event-stream" },
    });
    expect(res.status).toBe(200);
    expect([res.headers.get("ratelimit-limit"), res.headers.get("ratelimit-remaining")]).toEqual(["5", "4"]);
    expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
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

  // The limiters count in memory and sync through the database, so limits well above the exact tail
  // (the last 50 points, always taken in the database) are where processes can drift; these two
  // tests drive that part directly, two limiter instances standing for two API processes.
  it("is exact within one process, however many requests race", async () => {
    const limiter = new SyncedRateLimiter(a.database.db, { keyPrefix: "race", points: 200, durationSeconds: 60, syncIntervalMs: 20 });
    const decisions = await Promise.all(Array.from({ length: 300 }, () => limiter.consume("k")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(200);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.remaining === 0 && d.msBeforeReset > 0)).toBe(true);
  });

  it("keeps two processes sharing one database within the stated tolerance", async () => {
    const limit = 300;
    const interval = 50;
    const opts = { keyPrefix: "shared", points: limit, durationSeconds: 60, syncIntervalMs: interval };
    const processes = [new SyncedRateLimiter(a.database.db, opts), new SyncedRateLimiter(b.database.db, opts)];
    // Each process takes at most one request per 2 ms (≤ 500 req/s), 400 each: 800 against a limit of 300.
    const maxRate = 500;
    const admitted = await Promise.all(
      processes.map(async (limiter) => {
        let n = 0;
        for (let i = 0; i < 400; i++) {
          if ((await limiter.consume("k")).allowed) n++;
          await new Promise((r) => setTimeout(r, 2));
        }
        return n;
      }),
    );
    const total = admitted[0]! + admitted[1]!;
    // The documented bound: limit + (P − 1) × rate × (3 × interval + a round trip); 50 ms allowed for
    // the round trip and late timers on a busy machine. Without the sync each would admit ~300.
    const tolerance = (processes.length - 1) * maxRate * ((3 * interval + 50) / 1000);
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total).toBeLessThanOrEqual(limit + tolerance);
    // Both saw the window spent: each refuses from then on, with nothing left.
    for (const limiter of processes) {
      await limiter.flush();
      expect(await limiter.consume("k")).toMatchObject({ allowed: false, remaining: 0 });
    }
    const [row] = await a.database.db("rate_limits").where({ key: "shared:k" });
    expect(row.points).toBeGreaterThanOrEqual(total);
  });
});

const quiet = () => undefined;
/** A handle on a database that can't be reached; knex's own per-failure console warnings silenced. */
const unreachable = (url: string): Db =>
  knexFactory({
    client: "pg",
    connection: url,
    pool: { min: 0, max: 2 },
    log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet },
  });

/** A PostgreSQL address that accepts connections and never answers: every round trip hangs. */
async function silentDatabase(): Promise<{ db: Db; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => void sockets.add(socket));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const db = unreachable(`postgresql://nobody@127.0.0.1:${(server.address() as AddressInfo).port}/none`);
  return {
    db,
    async close() {
      // Ending the hung connection attempts first: the pool's destroy waits for them.
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await db.destroy();
      await closed;
    },
  };
}

/** GET /v1/capabilities (rate-limited per IP, no other database work) `n` times; statuses and the slowest answer. */
async function capabilities(bases: string[], n: number) {
  const statuses: number[] = [];
  let slowest = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    statuses.push((await call(bases[i % bases.length]!, "GET", "/v1/capabilities")).status);
    slowest = Math.max(slowest, performance.now() - t0);
  }
  return { statuses, slowest };
}

describe("rate limits without the main pool or the database", () => {
  it("answers promptly, exact, while a batch holds every connection of the main pool", async () => {
    // Both servers share this pool (as the API and worker of one role-`all` process do).
    const { db } = a.database;
    const client = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
    const held = await Promise.all(Array.from({ length: 10 }, () => client.acquireConnection()));
    try {
      const { statuses, slowest } = await capabilities([a.base, b.base], 41);
      // The budget of 40 is within the exact tail: each point was taken in the database, on the limiters' own pool.
      expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
      expect(statuses[40]).toBe(429);
      expect(slowest).toBeLessThan(2_000); // on the main pool each would wait for knex's 60 s acquire timeout
    } finally {
      for (const c of held) await client.releaseConnection(c);
    }
  });

  it("fails open on its own counts, without 500s, when the limiter's database doesn't answer", async () => {
    const lines: string[] = [];
    const logger = createLogger("warn", { write: (line: string) => void lines.push(line) });
    for (const broken of [
      await silentDatabase(),
      { db: unreachable("postgresql://nobody@127.0.0.1:1/none"), close: () => Promise.resolve() },
    ]) {
      lines.length = 0;
      const { app } = createApp({ ...a.platform.appDeps, logger }, undefined, { rateLimitDb: broken.db });
      const server = await listen(app, 0, "127.0.0.1");
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const { statuses, slowest } = await capabilities([base], 41);
        // One process alone still counts exactly: its own 40 points spend the budget.
        expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
        expect(statuses[40]).toBe(429);
        expect(slowest).toBeLessThan(2_000); // a request waits on the database 250 ms at most, then not at all
        // Warned of, once for the whole run, not per request.
        expect(lines.filter((l) => l.includes("rate limits decided without the database"))).toHaveLength(1);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await broken.close();
      }
    }
  });

  it("runs the limiters on a pool of their own, closed with the main one", async () => {
    const main = connect(a.database.url, { max: 1 });
    const side = sidePool(main, "rate-limiter", { max: 1, timeoutMs: 1_000 });
    expect(sidePool(main, "rate-limiter", { max: 1, timeoutMs: 1_000 })).toBe(side);
    const { rows } = await side.raw("SELECT current_setting('application_name') AS name");
    expect(rows[0].name).toBe("batchrouter-rate-limiter");
    await main.destroy(); // what shutdown does (server/database.ts close())
    expect((side.client as { pool?: unknown }).pool).toBeUndefined();
  });

  it("decides concurrent requests locally within its bound when the round trip hangs", async () => {
    const silent = await silentDatabase();
    try {
      const limiter = new SyncedRateLimiter(silent.db, { keyPrefix: "hang", points: 120, durationSeconds: 60, maxWaitMs: 100 });
      const t0 = performance.now();
      const decisions = await Promise.all(Array.from({ length: 200 }, () => limiter.consume("k")));
      expect(performance.now() - t0).toBeLessThan(1_500);
      expect(decisions.filter((d) => d.allowed)).toHaveLength(120);
      expect(decisions.filter((d) => !d.allowed).every((d) => d.remaining === 0 && d.msBeforeReset > 0)).toBe(true);
    } finally {
      await silent.close();
    }
  });
});
