import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post, balanceOf } from "../server/billing/ledger.js";
import { sumEntries } from "../db/queries/ledger.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ BATCHROUTER_SIGNUP_CREDIT_USD: "1.5" });
});
afterAll(async () => srv?.close());

describe("the credit ledger", () => {
  it("grants sign-up credit as a promo_grant entry and shows it on the account", async () => {
    const agent = await registerAgent(srv.base);
    const account = await call(srv.base, "GET", "/v1/auth/account", { key: agent.api_key });
    expect(account.body.credit_balance.amount).toBe("1.500000");
    const ledger = await call(srv.base, "GET", "/v1/billing/ledger", { key: agent.api_key });
    expect(ledger.status).toBe(200);
    expect(ledger.body.data).toHaveLength(1);
    expect(ledger.body.data[0]).toMatchObject({
      kind: "promo_grant",
      amount: { amount: "1.500000", currency: "usd" },
      balance_after: { amount: "1.500000" },
    });
  });

  it("posts each posting key once, even when retried concurrently", async () => {
    const agent = await registerAgent(srv.base);
    const grant = () =>
      post(srv.database.db, {
        org_id: agent.org_id,
        environment: "live",
        kind: "promo_grant",
        available_delta: 2_000_000,
        posting_key: "grant-once",
      });
    const results = await Promise.all(Array.from({ length: 10 }, grant));
    expect(results.filter((r) => r.posted)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entry.id)).size).toBe(1);
    const b = await balanceOf(srv.database.db, agent.org_id, "live");
    expect(b.available).toBe(3_500_000);
  });

  it("keeps the cached balance equal to the sum of the entries through many postings", async () => {
    const agent = await registerAgent(srv.base);
    const deltas = [5_000_000, -1_234_567, 250, -3, 999_999, -500_000];
    await Promise.all(
      deltas.map((d, i) =>
        post(srv.database.db, {
          org_id: agent.org_id,
          environment: "live",
          kind: d > 0 ? "promo_grant" : "adjustment",
          available_delta: d,
          posting_key: `p${i}`,
        }),
      ),
    );
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "reservation",
      available_delta: -700_000,
      reserved_delta: 700_000,
      posting_key: "r1",
      require_funds: true,
    });
    const cached = await balanceOf(srv.database.db, agent.org_id, "live");
    const summed = await sumEntries(srv.database.db, agent.org_id, "live");
    expect(cached.available).toBe(summed.available);
    expect(cached.reserved).toBe(summed.reserved);
    expect(cached.available).toBe(1_500_000 + deltas.reduce((a, b) => a + b, 0) - 700_000);
    expect(cached.credit_balance).toBe(cached.available + cached.reserved);
    const entries = await srv.database.db("ledger_entries").where({ org_id: agent.org_id, environment: "live" }).orderBy("id");
    let running = 0;
    for (const e of entries) {
      running += e.available_delta;
      expect(e.available_after).toBe(running);
    }
  });

  it("refuses a posting that would overdraw when funds are required, and changes nothing", async () => {
    const agent = await registerAgent(srv.base);
    await expect(
      post(srv.database.db, {
        org_id: agent.org_id,
        environment: "live",
        kind: "reservation",
        available_delta: -2_000_000,
        reserved_delta: 2_000_000,
        posting_key: "too-much",
        require_funds: true,
      }),
    ).rejects.toMatchObject({ code: "insufficient_credits", details: { shortfall: { amount: "0.500000", currency: "usd" } } });
    expect((await balanceOf(srv.database.db, agent.org_id, "live")).available).toBe(1_500_000);
  });

  it("is append-only: entries can't be updated or deleted", async () => {
    const agent = await registerAgent(srv.base);
    const before = await srv.database.db("ledger_entries").where({ org_id: agent.org_id });
    await srv.database.db("ledger_entries").where({ org_id: agent.org_id }).update({ available_delta: 999 });
    await srv.database.db("ledger_entries").where({ org_id: agent.org_id }).delete();
    const after = await srv.database.db("ledger_entries").where({ org_id: agent.org_id });
    expect(after).toEqual(before);
  });

  it("keeps live and test ledgers apart", async () => {
    const agent = await registerAgent(srv.base);
    const test = await call(srv.base, "GET", "/v1/billing/ledger", { key: agent.test_api_key });
    expect(test.body.data.every((e: { kind: string }) => e.kind === "promo_grant")).toBe(true);
    expect(test.body.data.map((e: { amount: { amount: string } }) => e.amount.amount)).toEqual(["100.000000"]);
  });
});
