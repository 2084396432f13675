import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Db } from "../db/connection.js";
import { keyCacheFor, LISTENING_TTL_MS } from "../server/accounts/key-cache.js";
import { LISTENER_APPLICATION_NAME } from "../server/accounts/key-change-listener.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

// Two API processes on one database: `a` changes keys, `b` has them cached. `b` gets a database
// handle of its own, as a separate process would, so it has its own key cache and listening connection.
let a: TestServer;
let b: TestServer;
let bDb: Db;
beforeAll(async () => {
  a = await startTestServer();
  bDb = connect(a.database.url, { max: 5 });
  b = await startTestServer({}, { database: { url: a.database.url, db: bDb, drop: async () => undefined } });
});
afterAll(async () => {
  await b?.close();
  await bDb?.destroy();
  await a?.close();
});

const account = (srv: TestServer, key: string) => call(srv.base, "GET", "/v1/auth/account", { key });

/** Counts the api_keys lookups `db` makes while `fn` runs. */
async function keyLookups(db: Db, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const onQuery = (q: { sql: string }) => void (q.sql.includes("api_keys") && q.sql.includes("secret_hash") && n++);
  db.on("query", onQuery);
  try {
    await fn();
  } finally {
    db.off("query", onQuery);
  }
  return n;
}

/** A fresh key of a new agent, already cached by `b` (b answered with it once). */
async function keyCachedByB() {
  const agent = await registerAgent(a.base);
  const made = await call(a.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: { name: "cached" } });
  expect(made.status).toBe(201);
  await waitFor(() => keyCacheFor(bDb).isListening || undefined, 10_000, "b's key listener");
  expect((await account(b, made.body.api_key)).status).toBe(200);
  // The cache answers: no lookup in b's database for the next request.
  expect(await keyLookups(bDb, async () => expect((await account(b, made.body.api_key)).status).toBe(200))).toBe(0);
  return { owner: agent.api_key as string, id: made.body.id as string, secret: made.body.api_key as string };
}

/** Milliseconds until `b` answers 401 for `secret` (polling every 25 ms, giving up after 5 s). */
async function msUntilRefusedByB(secret: string, since: number): Promise<number> {
  await waitFor(async () => ((await account(b, secret)).status === 401 ? true : undefined), 5_000, "b to refuse the key", 25);
  return performance.now() - since;
}

describe("cached key lookups across processes", () => {
  it("refuses a key revoked on another process within a second", async () => {
    const key = await keyCachedByB();
    const t0 = performance.now();
    expect((await call(a.base, "DELETE", `/v1/auth/account/api-keys/${key.id}`, { key: key.owner })).status).toBe(200);
    // Well inside the cache's own lifetime: the notification, not expiry, did it.
    expect(await msUntilRefusedByB(key.secret, t0)).toBeLessThan(Math.min(1000, LISTENING_TTL_MS));
    expect((await account(b, key.secret)).body.error.message).toMatch(/revoked/);
  });

  it("refuses a rotated-out secret within a second and takes the new one", async () => {
    const key = await keyCachedByB();
    const t0 = performance.now();
    const rotated = await call(a.base, "POST", `/v1/auth/account/api-keys/${key.id}/rotate`, {
      key: key.owner,
      body: { grace_seconds: 0 },
    });
    expect(rotated.status).toBe(200);
    expect(await msUntilRefusedByB(key.secret, t0)).toBeLessThan(1000);
    expect((await account(b, rotated.body.api_key)).status).toBe(200);
  });

  it("still refuses within a second after its listening connection is lost, and listens again", async () => {
    const key = await keyCachedByB();
    const killed = await a.database.db.raw(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()",
      [LISTENER_APPLICATION_NAME],
    );
    expect(killed.rows.length).toBeGreaterThan(0);
    const t0 = performance.now();
    expect((await call(a.base, "DELETE", `/v1/auth/account/api-keys/${key.id}`, { key: key.owner })).status).toBe(200);
    expect(await msUntilRefusedByB(key.secret, t0)).toBeLessThan(1000);
    await waitFor(() => keyCacheFor(bDb).isListening || undefined, 10_000, "b to listen again");
  });

  it("never caches an unknown key into acceptance", async () => {
    const agent = await registerAgent(a.base);
    const unknown = `${agent.api_key.slice(0, -4)}zzzz`;
    expect((await account(b, unknown)).status).toBe(401);
    expect((await account(b, unknown)).status).toBe(401);
    expect((await account(b, agent.api_key)).status).toBe(200);
  });
});
