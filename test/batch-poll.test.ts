import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../server/accounts/actor.js";
import { SCOPES } from "../server/accounts/schemas.js";
import { FINISHED_BATCH_TTL_MS } from "../server/batches/finished-batch-cache.js";
import { presentBatch, presentOwnBatch } from "../server/batches/present.js";
import { makeItems, mustCreate } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// Polling a batch: its one-statement read, and ETag / If-None-Match (on every JSON read).
// No worker: a created batch stays where create left it until this test changes it.
let srv: TestServer;
let key: string;
let orgId: string;
beforeAll(async () => {
  srv = await startTestServer();
  const agent = await registerAgent(srv.base);
  key = agent.test_api_key;
  orgId = agent.org_id;
});
afterAll(async () => {
  await srv?.close();
});

const get = (path: string, etag?: string) => call(srv.base, "GET", path, { key, headers: etag ? { "If-None-Match": etag } : {} });

/** The statements `srv`'s database runs while `fn` runs. */
async function statements(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const onQuery = (q: { sql: string }) => void seen.push(q.sql);
  srv.database.db.on("query", onQuery);
  try {
    await fn();
  } finally {
    srv.database.db.off("query", onQuery);
  }
  return seen;
}

describe("the poll's read", () => {
  it("reads a batch in one statement, presenting what the per-table reads present", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(3) });
    await get(`/v1/batches/${batch.id}`); // the key and the rate limit are in memory from here on
    const ran = await statements(async () => expect((await get(`/v1/batches/${batch.id}`)).status).toBe(200));
    expect(ran.filter((sql) => /batches|batch_items/.test(sql))).toHaveLength(1);

    const actor: Actor = { org_id: orgId, environment: "test", key_id: "key_test", scopes: SCOPES };
    const { row, batch: viaView } = await presentOwnBatch(srv.database.db, actor, batch.id);
    expect(viaView).toEqual(await presentBatch(srv.database.db, row));
    expect((viaView.lanes as unknown[]).length).toBeGreaterThan(0);
    await expect(presentOwnBatch(srv.database.db, { ...actor, environment: "live" }, batch.id)).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("reads a finished batch once a second, a running one on every poll", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(2) });
    const polls = () => Promise.all([1, 2, 3].map(() => get(`/v1/batches/${batch.id}`)));
    const reads = (sqls: string[]) => sqls.filter((sql) => sql.includes("batch_items")).length;
    expect(reads(await statements(polls))).toBe(3);
    // Finished as the worker would leave it (this server runs none): terminal, no item open.
    await srv.database.db("batch_items").where({ batch_id: batch.id }).update({ status: "completed" });
    await srv.database.db("batches").where({ id: batch.id }).update({ status: "completed", completed_at: new Date() });
    const t0 = Date.now();
    const sqls = await statements(async () => {
      await get(`/v1/batches/${batch.id}`);
      await polls();
    });
    if (Date.now() - t0 < FINISHED_BATCH_TTL_MS) expect(reads(sqls)).toBeLessThanOrEqual(1);
  });
});

describe("ETag / If-None-Match on reads", () => {
  it("answers a repeated poll 304 with no body, keeping X-Request-Id and the RateLimit headers", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(2) });
    const first = await get(`/v1/batches/${batch.id}`);
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);

    const res = await fetch(`${srv.base}/v1/batches/${batch.id}`, {
      headers: { Authorization: `Bearer ${key}`, "If-None-Match": etag, "X-Request-Id": "poll-304-check" },
    });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe("");
    expect(res.headers.get("etag")).toBe(etag);
    expect(res.headers.get("x-request-id")).toBe("poll-304-check");
    expect(res.headers.get("ratelimit-limit")).not.toBeNull();
    expect(res.headers.get("ratelimit-remaining")).not.toBeNull();
    expect(res.headers.get("ratelimit-reset")).not.toBeNull();

    // Another tag (or a list of tags holding ours) is judged like a browser cache would.
    expect((await get(`/v1/batches/${batch.id}`, 'W/"something-else"')).status).toBe(200);
    expect((await get(`/v1/batches/${batch.id}`, `W/"other", ${etag}`)).status).toBe(304);
  });

  it("answers 200 with a new ETag once the batch changes", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(2) });
    const before = await get(`/v1/batches/${batch.id}`);
    const etag = before.headers.get("etag")!;
    expect((await get(`/v1/batches/${batch.id}`, etag)).status).toBe(304);

    const cancel = await call(srv.base, "POST", `/v1/batches/${batch.id}/cancel`, { key });
    expect(cancel.status).toBe(200);
    const after = await get(`/v1/batches/${batch.id}`, etag);
    expect(after.status).toBe(200);
    expect(after.body.status).not.toBe(before.body.status);
    expect(after.headers.get("etag")).not.toBe(etag);
    expect((await get(`/v1/batches/${batch.id}`, after.headers.get("etag")!)).status).toBe(304);
  });

  it("tags other JSON reads too, and never errors or writes", async () => {
    const list = await get("/v1/batches");
    expect(list.status).toBe(200);
    expect((await get("/v1/batches", list.headers.get("etag")!)).status).toBe(304);

    const missing = await get("/v1/batches/bat_does_not_exist");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("etag")).toBeNull();

    const post = await call(srv.base, "POST", "/v1/quotes", { key, body: { items: makeItems(1) } });
    expect(post.headers.get("etag")).toBeNull();
  });
});

describe("the poll's direct match (server/http/hot-routes.ts)", () => {
  it("answers what the router answers for the same batch", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(2) });
    // A trailing slash or another letter case of the prefix goes the generic way, through the router.
    for (const ended of [false, true]) {
      if (ended) await call(srv.base, "POST", `/v1/batches/${batch.id}/cancel`, { key });
      const direct = await get(`/v1/batches/${batch.id}`);
      const routed = await get(`/V1/batches/${batch.id}/`);
      expect(direct.status).toBe(200);
      expect(routed.status).toBe(200);
      expect(direct.body).toEqual(routed.body);
      expect(direct.headers.get("etag")).toBe(routed.headers.get("etag"));
      expect(direct.headers.get("content-type")).toBe(routed.headers.get("content-type"));
      for (const h of ["ratelimit-limit", "x-request-id"]) expect(direct.headers.get(h)).not.toBeNull();
      expect((await get(`/v1/batches/${batch.id}`, direct.headers.get("etag")!)).status).toBe(304);
    }
    // Literal routes beside the parameter keep theirs; unknown ids and bad keys answer as before.
    const report = await get("/v1/batches/optimization-report");
    expect(report.status).toBe(200);
    expect(report.body.object).not.toBe("batch");
    expect((await get("/v1/batches/bat_nope")).body.error.code).toBe("not_found");
    const anonymous = await call(srv.base, "GET", `/v1/batches/${batch.id}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.request_id).toBe(anonymous.headers.get("x-request-id"));
  });
});
