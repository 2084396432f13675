import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { createBatch, expectBatchSettled, expectLedgerBalanced, idemKey, makeItems, micros, untilTerminal } from "./helpers/batches.js";
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

async function counts(orgId: string) {
  const db = srv.database.db;
  const n = async (q: any) => Number((await q.count("* as n"))[0].n);
  return {
    batches: await n(db("batches").where({ org_id: orgId })),
    ledger: await n(db("ledger_entries").where({ org_id: orgId })),
    balances: await db("balances")
      .where({ org_id: orgId })
      .orderBy("environment")
      .select("environment", "available_micros", "reserved_micros"),
    used_quotes: await n(db("quotes").where({ org_id: orgId }).whereNotNull("batch_id")),
  };
}

describe("credits", () => {
  it("402 insufficient_credits with available/required/shortfall creates nothing; after a grant the batch runs", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.api_key; // live: no signup credit
    const items = makeItems(5, { prefix: "poor" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } })).body;
    expect(quote.funding_preview).toMatchObject({ can_fund: false });
    const total = micros(quote.pricing_estimate.total);
    const before = await counts(agent.org_id);

    for (const body of [{ items }, { items, quote_id: quote.quote_id }]) {
      const res = await createBatch(srv.base, key, body);
      expect(res.status).toBe(402);
      expect(res.body.error.code).toBe("insufficient_credits");
      expect(res.body.error.details).toEqual({
        available: { amount: "0.000000", currency: "usd" },
        required: quote.pricing_estimate.total,
        shortfall: quote.pricing_estimate.total,
      });
    }
    expect(await counts(agent.org_id)).toEqual(before);

    // Part of it: the shortfall is the difference.
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "promo_grant",
      available_delta: Math.floor(total / 2),
      posting_key: "grant:half",
      description: "test grant",
    });
    const half = await createBatch(srv.base, key, { items, quote_id: quote.quote_id });
    expect(half.status).toBe(402);
    expect(micros(half.body.error.details.available)).toBe(Math.floor(total / 2));
    expect(micros(half.body.error.details.shortfall)).toBe(total - Math.floor(total / 2));

    // An operator grant (what `npm run admin credits grant` posts) makes it fundable.
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "promo_grant",
      available_delta: 1_000_000,
      posting_key: "grant:1usd",
      description: "test grant",
    });
    const ok = await createBatch(srv.base, key, { items, quote_id: quote.quote_id });
    expect(ok.status).toBe(202);
    const account = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(micros(account.body.reserved_balance)).toBe(total);
    const done = await untilTerminal(srv.base, key, ok.body.batch.id);
    expect(done.status).toBe("completed");
    const money = await expectBatchSettled(srv.database.db, ok.body.batch.id);
    const sums = await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
    expect(sums).toEqual({ available: Math.floor(total / 2) + 1_000_000 - money.settled, reserved: 0 });
    // The test environment's balance never moved.
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: agent.test_api_key })).body.credit_balance.amount).toBe("100.000000");
  });
});

describe("quotes at create", () => {
  it("quote_mismatch, quote_expired (expired or used), unknown or other-environment quote → 404; nothing created", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const items = makeItems(4, { prefix: "q" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } })).body;
    const before = await counts(agent.org_id);

    const variants: [string, unknown[]][] = [
      ["one item fewer", items.slice(1)],
      ["one item more", [...items, ...makeItems(1, { prefix: "extra" })]],
      [
        "another prompt",
        items.map((it, i) => (i === 2 ? { ...it, input: { messages: [{ role: "user", content: "something else" }] } } : it)),
      ],
      ["another model", items.map((it, i) => (i === 0 ? { ...it, model: "gpt-4o" } : it))],
      ["another id", items.map((it, i) => (i === 3 ? { ...it, customer_item_id: "q-renamed" } : it))],
    ];
    for (const [name, changed] of variants) {
      const res = await createBatch(srv.base, key, { quote_id: quote.quote_id, items: changed });
      expect(res.status, name).toBe(409);
      expect(res.body.error.code, name).toBe("quote_mismatch");
    }
    const unknown = await createBatch(srv.base, key, { quote_id: "qlock_01aaaaaaaaaaaaaaaaaaaaaaaa", items });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    const live = (await call(srv.base, "POST", "/v1/quotes/model", { key: agent.api_key, body: { items } })).body;
    const crossEnv = await createBatch(srv.base, key, { quote_id: live.quote_id, items });
    expect(crossEnv.status).toBe(404);
    expect(await counts(agent.org_id)).toEqual(before);

    // The quote is still open after all that; ten racing creates use it once.
    const race = await Promise.all(Array.from({ length: 10 }, () => createBatch(srv.base, key, { quote_id: quote.quote_id, items })));
    const won = race.filter((r) => r.status === 202);
    expect(won).toHaveLength(1);
    for (const r of race.filter((x) => x.status !== 202)) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe("quote_expired");
    }
    const used = await createBatch(srv.base, key, { quote_id: quote.quote_id, items });
    expect(used.status).toBe(409);
    expect(used.body.error.code).toBe("quote_expired");
    expect(used.body.error.message).toContain(won[0]!.body.batch.id);
    expect((await call(srv.base, "GET", `/v1/quotes/${quote.quote_id}`, { key })).body.status).toBe("accepted");
    const db = srv.database.db;
    expect(await db("ledger_entries").where({ org_id: agent.org_id, kind: "reservation" }).pluck("batch_id")).toEqual([
      won[0]!.body.batch.id,
    ]);

    // An expired quote.
    const stale = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } })).body;
    await db("quotes")
      .where({ id: stale.quote_id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const mid = await counts(agent.org_id);
    const expired = await createBatch(srv.base, key, { quote_id: stale.quote_id, items });
    expect(expired.status).toBe(409);
    expect(expired.body.error.code).toBe("quote_expired");
    expect(await counts(agent.org_id)).toEqual(mid);

    await untilTerminal(srv.base, key, won[0]!.body.batch.id);
    await expectBatchSettled(db, won[0]!.body.batch.id);
    await expectLedgerBalanced(db, agent.org_id, "test");
  });

  it("a quote's locked total caps what the batch can ever be billed", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    // The quote estimates the model's typical answer; a JSON schema asking for 20 long entries gets a far
    // longer one from the simulator, so the actual cost runs past the lock and the lock must hold.
    const schema = {
      type: "object",
      properties: { tags: { type: "array", minItems: 20, maxItems: 20, items: { type: "string", minLength: 400, maxLength: 400 } } },
      required: ["tags"],
    };
    const items = makeItems(6, { prefix: "cap" }).map((it) => ({
      ...it,
      input: { ...it.input, response_format: { type: "json_schema", json_schema: { name: "tags", schema } } },
    }));
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } })).body;
    const res = await createBatch(srv.base, key, { quote_id: quote.quote_id, items }, idemKey("cap"));
    expect(res.status).toBe(202);
    const done = await untilTerminal(srv.base, key, res.body.batch.id);
    expect(done.status).toBe("completed");
    const money = await expectBatchSettled(srv.database.db, res.body.batch.id);
    expect(money.settled).toBeLessThanOrEqual(micros(quote.pricing_estimate.total));
    expect(money.itemCosts).toBeGreaterThan(micros(quote.pricing_estimate.provider_subtotal)); // the usage ran over…
    expect(money.settled).toBe(micros(quote.pricing_estimate.total)); // …and the customer pays the locked total
    expect(money.released).toBe(0);
    const bill = (await call(srv.base, "GET", `/v1/batches/${res.body.batch.id}/billing-receipt`, { key })).body;
    expect(micros(bill.settled_total)).toBeLessThanOrEqual(micros(bill.quoted_total));
    expect(micros(bill.released)).toBe(micros(bill.reserved) - micros(bill.settled_total));
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
  });
});
