import { post } from "../server/billing/ledger.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBatch, expectBatchSettled, expectLedgerBalanced, idemKey, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";

let srv: TestServer;
// Live keys run on loopback fakes of OpenAI and Anthropic (test keys on the simulator).
let providers: LiveProviders;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

/** Everything a create could write: batches, units, items, ledger, quote claims, jobs, idempotency records. */
async function snapshot() {
  const db = srv.database.db;
  const n = async (q: any) => Number((await q.count("* as n"))[0].n);
  return {
    batches: await n(db("batches")),
    work_units: await n(db("work_units")),
    items: await n(db("batch_items")),
    ledger: await n(db("ledger_entries")),
    used_quotes: await n(db("quotes").whereNotNull("batch_id")),
    balances: await db("balances")
      .orderBy(["org_id", "environment"])
      .select("org_id", "environment", "available_micros", "reserved_micros"),
    jobs: await n(db.withSchema("pgboss").from("job").where("name", "like", "batch.%").orWhere("name", "like", "wu.%")),
    stored_responses: await n(db("idempotency_keys").where({ state: "done" })),
  };
}

describe("isolation", () => {
  it("another org's or the other environment's batch is 404 on every batch endpoint", async () => {
    const owner = await registerAgent(srv.base);
    const stranger = await registerAgent(srv.base);
    const batch = await mustCreate(srv.base, owner.test_api_key, { items: makeItems(2, { prefix: "iso" }) });
    await untilTerminal(srv.base, owner.test_api_key, batch.id);
    const paths: [string, string][] = [
      ["GET", ""],
      ["GET", "?include_billing_receipt=true"],
      ["POST", "/cancel"],
      ["GET", "/results"],
      ["GET", "/artifact-url?kind=output"],
      ["GET", "/artifact-url?kind=errors"],
      ["GET", "/artifact-url?kind=receipt"],
      ["GET", "/route-receipt"],
      ["GET", "/billing-receipt"],
      ["GET", "/webhook-deliveries"],
    ];
    // The owner sees each (cancel of an ended batch is 409, not 404).
    for (const [method, p] of paths) {
      const res = await call(srv.base, method, `/v1/batches/${batch.id}${p}`, { key: owner.test_api_key });
      expect(res.status, `${method} ${p}`).toBe(method === "POST" ? 409 : 200);
    }
    const before = await snapshot();
    for (const key of [stranger.test_api_key, stranger.api_key, owner.api_key]) {
      for (const [method, p] of paths) {
        const res = await call(srv.base, method, `/v1/batches/${batch.id}${p}`, { key, body: method === "POST" ? {} : undefined });
        expect(res.status, `${method} ${p}`).toBe(404);
        expect(res.body.error.code).toBe("not_found");
        expect(JSON.stringify(res.body)).not.toContain(owner.org_id);
      }
      const list = await call(srv.base, "GET", "/v1/batches?limit=100", { key });
      expect(list.body.data.map((b: any) => b.id)).not.toContain(batch.id);
    }
    // An unknown id reads the same as a hidden one.
    const unknown = await call(srv.base, "GET", "/v1/batches/bat_00000000000000000000000000", { key: stranger.test_api_key });
    expect(unknown.status).toBe(404);
    expect(await snapshot()).toEqual(before);
  });
});

describe("bad input on create", () => {
  it("answers every malformed body with a 4xx envelope and creates nothing", async () => {
    const agent = await registerAgent(srv.base);
    const other = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const good = makeItems(2, { prefix: "bad" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key: other.test_api_key, body: { items: good } })).body;
    expect(quote.quote_id).toMatch(/^qlock_/);
    const item = good[0]!;
    const cases: [string, unknown, number, string][] = [
      ["malformed JSON", '{"items": [', 400, "invalid_json"],
      ["a JSON array", "[1,2]", 400, "invalid_request"],
      ["a JSON string", '"items"', 400, "invalid_request"],
      ["null", "null", 400, "invalid_request"],
      ["an empty object", {}, 400, "invalid_request"],
      ["empty items", { items: [] }, 400, "invalid_request"],
      ["items not an array", { items: { a: 1 } }, 400, "invalid_request"],
      ["an item that is a string", { items: ["hello"] }, 400, "invalid_request"],
      [
        "an item without customer_item_id",
        { items: [{ operation: "responses", model: "gpt-4o-mini", input: item.input }] },
        400,
        "invalid_request",
      ],
      ["an item without input", { items: [{ customer_item_id: "x", model: "gpt-4o-mini" }] }, 400, "invalid_request"],
      ["an unknown operation", { items: [{ ...item, operation: "dance" }] }, 400, "invalid_request"],
      ["an unknown model", { items: [{ ...item, model: "gpt-17" }] }, 400, "invalid_request"],
      ["messages not an array", { items: [{ ...item, input: { messages: "hi" } }] }, 400, "invalid_request"],
      // Valid JSON and valid JS strings, but not storable in jsonb: a 500 until they were refused up front.
      [
        "a NUL character in a prompt",
        { items: [{ ...item, input: { messages: [{ role: "user", content: "a\u0000b" }] } }] },
        400,
        "invalid_request",
      ],
      ["an unpaired surrogate in metadata", { items: [{ ...item, metadata: { note: "half \ud83d" } }] }, 400, "invalid_request"],
      [
        "input nested 300 levels deep",
        { items: [{ ...item, input: { ...item.input, deep: JSON.parse("[".repeat(300) + "]".repeat(300)) } }] },
        400,
        "invalid_request",
      ],
      // Deeper than any recursive walk (ours, zod's, JSON.stringify's) could go: still a clean 400.
      [
        "input nested 100,000 levels deep",
        `{"items":[{"customer_item_id":"d","model":"gpt-4o-mini","input":{"input":"x","deep":${"[".repeat(100_000)}${"]".repeat(100_000)}}}]}`,
        400,
        "invalid_request",
      ],
      ["an unpaired surrogate in a key", { items: [{ ...item, input: { ...item.input, "\udc00": 1 } }] }, 400, "invalid_request"],
      ["duplicate customer_item_id", { items: [item, { ...good[1]!, customer_item_id: item.customer_item_id }] }, 400, "invalid_request"],
      ["items and input_file_id", { items: good, input_file_id: "file_x" }, 400, "invalid_request"],
      ["volume fields", { items: good, estimated_items: 10, models: ["gpt-4o-mini"] }, 400, "invalid_request"],
      ["an unknown field", { items: good, colour: "blue" }, 400, "invalid_request"],
      ["a bad sla_tier", { items: good, sla_tier: "yesterday" }, 400, "invalid_request"],
      ["a bad routing_mode", { items: good, routing_mode: "random" }, 400, "invalid_request"],
      ["a bad privacy_tier", { items: good, privacy_tier: "secret" }, 400, "invalid_request"],
      ["a bad region", { items: good, allowed_regions: ["mars"] }, 400, "invalid_request"],
      ["empty regions", { items: good, allowed_regions: [] }, 400, "invalid_request"],
      ["a float max_price", { items: good, max_price: 1.5 }, 400, "invalid_request"],
      ["a negative max_price", { items: good, max_price: "-1" }, 400, "invalid_request"],
      [
        "17 metadata pairs",
        { items: good, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
        400,
        "invalid_request",
      ],
      ["a non-string metadata value", { items: good, metadata: { a: 1 } }, 400, "invalid_request"],
      ["a webhook without a URL", { items: good, webhook: { secret: "0123456789" } }, 400, "invalid_request"],
      ["a webhook secret too short", { items: good, webhook: { url: "https://example.com/h", secret: "short" } }, 400, "invalid_request"],
      [
        "webhook and delivery",
        { items: good, webhook: { url: "https://example.com/h" }, delivery: { webhook_url: "https://example.com/h" } },
        400,
        "invalid_request",
      ],
      ["a quote_id that is a number", { items: good, quote_id: 7 }, 400, "invalid_request"],
      ["an unknown input_file_id", { input_file_id: "file_doesnotexist" }, 404, "not_found"],
      ["an unknown quote", { items: good, quote_id: "qlock_doesnotexist" }, 404, "not_found"],
      ["another org's quote", { items: good, quote_id: quote.quote_id }, 404, "not_found"],
      ["a price ceiling nothing meets", { items: good, max_price: "0.000001" }, 422, "no_eligible_lane"],
      [
        "regions with no lane for the model",
        { items: makeItems(1, { model: "claude-haiku-4" }), allowed_regions: ["apac"] },
        422,
        "no_eligible_lane",
      ],
    ];
    const before = await snapshot();
    for (const [name, body, status, code] of cases) {
      const res = await createBatch(srv.base, key, body);
      expect(res.status, name).toBe(status);
      expect(res.body?.error?.code, name).toBe(code);
      expect(res.body.error.request_id, name).toBeTruthy();
      expect(typeof res.body.error.message, name).toBe("string");
    }
    // The same deep item to a quote (no idempotency record to compute first): 400 as well.
    const deep = `{"items":[{"customer_item_id":"d","model":"gpt-4o-mini","input":{"input":"x","deep":${"[".repeat(100_000)}${"]".repeat(100_000)}}}]}`;
    const deepQuote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: deep });
    expect([deepQuote.status, deepQuote.body.error.code]).toEqual([400, "invalid_request"]);
    const after = await snapshot();
    // Only 404/422 outcomes are stored against their idempotency keys (as Stripe does); nothing else moved.
    expect({ ...after, stored_responses: 0 }).toEqual({ ...before, stored_responses: 0 });

    const raw = [
      ["text/plain", "hello", 415, "unsupported_media_type"],
      ["application/json", JSON.stringify({ items: makeItems(1, { text: () => "x".repeat(11 * 1024 * 1024) }) }), 413, "payload_too_large"],
    ] as const;
    for (const [type, body, status, code] of raw) {
      const res = await call(srv.base, "POST", "/v1/batches", {
        key,
        body,
        headers: { "Content-Type": type, "Idempotency-Key": idemKey("raw") },
      });
      expect(res.status, type).toBe(status);
      expect(res.body.error.code).toBe(code);
    }

    const noKey = await call(srv.base, "POST", "/v1/batches", { key, body: { items: good } });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe("idempotency_key_required");
    for (const k of ["short", "x".repeat(129)]) {
      const res = await call(srv.base, "POST", "/v1/batches", { key, body: { items: good }, headers: { "Idempotency-Key": k } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("idempotency_key_invalid");
    }
    const unauth = await call(srv.base, "POST", "/v1/batches", { body: { items: good }, headers: { "Idempotency-Key": idemKey() } });
    expect(unauth.status).toBe(401);
    expect({ ...(await snapshot()), stored_responses: 0 }).toEqual({ ...before, stored_responses: 0 });
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});

describe("idempotency under concurrency", () => {
  it("50 concurrent creates with one Idempotency-Key make one batch and one reservation", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const body = { items: makeItems(20, { prefix: "race" }) };
    const headers = { "Idempotency-Key": idemKey("race") };
    const responses = await Promise.all(Array.from({ length: 50 }, () => call(srv.base, "POST", "/v1/batches", { key, body, headers })));
    const byStatus = responses.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    expect(
      Object.keys(byStatus)
        .map(Number)
        .every((s) => s === 202 || s === 409),
    ).toBe(true);
    const accepted = responses.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    const ids = new Set(accepted.map((r) => r.body.batch.id));
    expect(ids.size).toBe(1);
    expect(accepted.filter((r) => r.headers.get("idempotent-replayed") !== "true")).toHaveLength(1);
    for (const r of responses.filter((x) => x.status === 409)) {
      expect(r.body.error.code).toBe("idempotency_key_in_use");
      expect(r.headers.get("retry-after")).toBe("1");
    }
    const [id] = [...ids];
    const db = srv.database.db;
    expect(await db("batches").where({ org_id: agent.org_id }).pluck("id")).toEqual([id]);
    expect(await db("ledger_entries").where({ org_id: agent.org_id, kind: "reservation" }).pluck("batch_id")).toEqual([id]);
    expect(Number((await db("batch_items").where({ batch_id: id }).count("* as n"))[0]!.n)).toBe(20);

    // Once the first has finished, the key replays; another body under it is a conflict.
    const replay = await call(srv.base, "POST", "/v1/batches", { key, body, headers });
    expect(replay.status).toBe(202);
    expect(replay.body.batch.id).toBe(id);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const conflict = await call(srv.base, "POST", "/v1/batches", { key, body: { items: makeItems(3, { prefix: "race" }) }, headers });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe("idempotency_conflict");
    // The same key in another org is another key.
    const someoneElse = await registerAgent(srv.base);
    const theirs = await call(srv.base, "POST", "/v1/batches", { key: someoneElse.test_api_key, body, headers });
    expect(theirs.status).toBe(202);
    expect(theirs.body.batch.id).not.toBe(id);

    await untilTerminal(srv.base, key, id!);
    await expectBatchSettled(db, id!);
    await expectLedgerBalanced(db, agent.org_id, "test");
  });

  it("50 concurrent creates with 50 keys make 50 batches whose reservations never overdraw", async () => {
    const agent = await registerAgent(srv.base);
    // The live key starts at zero: grant room for exactly 10 of the 50.
    const key = agent.api_key;
    const db = srv.database.db;
    const probe = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items: makeItems(20, { prefix: "many" }) } })).body;
    const each = Math.round(Number(probe.pricing_estimate.total.amount) * 1e6);
    await post(db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "promo_grant",
      available_delta: each * 10 + Math.floor(each / 2),
      posting_key: "grant:many",
    });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => createBatch(srv.base, key, { items: makeItems(20, { prefix: "many" }) })),
    );
    const ok = responses.filter((r) => r.status === 202);
    const poor = responses.filter((r) => r.status === 402);
    expect(ok.length + poor.length).toBe(50);
    expect(ok).toHaveLength(10);
    for (const r of poor) expect(r.body.error.code).toBe("insufficient_credits");
    const sums = await expectLedgerBalanced(db, agent.org_id, "live");
    expect(sums.available).toBe(Math.floor(each / 2));
    expect(Number((await db("batches").where({ org_id: agent.org_id }).count("* as n"))[0]!.n)).toBe(10);
    for (const r of ok) await untilTerminal(srv.base, key, r.body.batch.id);
    for (const r of ok) await expectBatchSettled(db, r.body.batch.id);
    await expectLedgerBalanced(db, agent.org_id, "live");
  });
});
