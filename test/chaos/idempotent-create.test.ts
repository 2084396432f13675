import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectLedgerBalanced, makeItems } from "../helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { call, registerAgent } from "../helpers/server.js";
import { Cluster } from "./helpers/cluster.js";

// Issue 13 part 5: 200 concurrent duplicate creates with one Idempotency-Key, spread over two API
// processes. spec/api.md §0: same key + same body → the stored response again with
// `Idempotent-Replayed: true`; same key while the first request still runs → 409
// `idempotency_key_in_use`. So each answer is the one batch or that 409, and only one batch and one
// reservation ever exist.

const DUPLICATES = 200;
let database: TestDatabase;
let cluster: Cluster;

beforeAll(async () => {
  database = await createTestDatabase();
  cluster = await Cluster.create(database.url);
});
afterAll(async () => {
  await cluster?.close();
  await database?.drop();
});

describe("200 concurrent duplicate POST /v1/batches with one Idempotency-Key", () => {
  it("create one batch and one reservation; every answer is that batch or 409 idempotency_key_in_use", async () => {
    const apis = await Promise.all([cluster.start("api"), cluster.start("api")]);
    const agent = await registerAgent(apis[0]!.base);
    const key = agent.test_api_key;
    const body = { items: makeItems(200, { prefix: "dup" }), metadata: { run: "chaos-idempotency" } };
    const headers = { "Idempotency-Key": "chaos-duplicate-create-0001" };

    const answers = await Promise.all(
      Array.from({ length: DUPLICATES }, (_, i) => call(apis[i % 2]!.base, "POST", "/v1/batches", { key, body, headers })),
    );
    const created = answers.filter((a) => a.status === 202);
    const inUse = answers.filter((a) => a.status === 409);
    expect(answers.filter((a) => a.status !== 202 && a.status !== 409).map((a) => [a.status, a.body])).toEqual([]);
    for (const a of inUse) {
      expect(a.body.error.code).toBe("idempotency_key_in_use");
      expect(a.headers.get("retry-after")).toBe("1");
    }
    // One request ran; every other 202 is its stored response replayed, equal to the letter.
    expect(created.filter((a) => a.headers.get("idempotent-replayed") !== "true")).toHaveLength(1);
    const first = created.find((a) => a.headers.get("idempotent-replayed") !== "true")!;
    for (const a of created) expect(a.body).toEqual(first.body);
    const batchId: string = first.body.batch.id;
    expect(batchId).toMatch(/^bat_/);

    // A client that got the 409 retries, as Retry-After tells it to, and gets the batch.
    const retried = await call(apis[1]!.base, "POST", "/v1/batches", { key, body, headers });
    expect(retried.status).toBe(202);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(retried.body).toEqual(first.body);
    // The same key with another body is refused, not a second batch.
    const other = await call(apis[0]!.base, "POST", "/v1/batches", { key, body: { ...body, metadata: { run: "other" } }, headers });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("idempotency_conflict");

    // What the org sees and what the rows say: one batch, one reservation, a balance equal to the ledger.
    const list = await call(apis[0]!.base, "GET", "/v1/batches?limit=100", { key });
    expect(list.body.data.map((b: { id: string }) => b.id)).toEqual([batchId]);
    const db = database.db;
    expect(await db("batches").where({ org_id: agent.org_id }).pluck("id")).toEqual([batchId]);
    const reservations = await db("ledger_entries").where({ org_id: agent.org_id, kind: "reservation" });
    expect(reservations).toHaveLength(1);
    expect(reservations[0].batch_id).toBe(batchId);
    const sums = await expectLedgerBalanced(db, agent.org_id, "test");
    expect(sums.reserved).toBe(Number(reservations[0].reserved_delta));
    const account = await call(apis[1]!.base, "GET", "/v1/auth/account", { key });
    expect(Math.round(Number(account.body.reserved_balance.amount) * 1e6)).toBe(sums.reserved);
    process.stdout.write(`[chaos] duplicates: ${created.length} × 202 (1 original), ${inUse.length} × 409 in use\n`);
  }, 120_000);
});
