import Anthropic from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import {
  crashOnceBeforeRecord,
  expectNothingTwice,
  expectOneResultEach,
  fundedLiveAgent,
  providerRuns,
  resetFaults,
} from "./helpers/live.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";
import { purgeOldIntents } from "../db/queries/submit-attempts.js";

// Issue 12 on Anthropic, whose Message Batches carry no metadata: a create the provider accepted
// but we never recorded (the answer lost, the worker killed) must not become a second, billed batch
// on the resubmit — and a look-alike batch of another client of the same account must never be
// taken for ours. Live keys, so the real adapter speaks to the loopback fake. Each case uses its own
// item count: batches are matched by count, and the fake is shared by the file.

let providers: LiveProviders;
let srv: TestServer;
beforeAll(async () => {
  providers = await liveProviders({ turnaroundMs: 20 });
  srv = await startTestServer(providers.env, { worker: { retryBaseMs: 20 } });
});
afterEach(() => resetFaults(providers));
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

const AN = (n: number, prefix: string) => makeItems(n, { prefix, model: "claude-haiku-4" });
const creates = () => providers.anthropic.requests.filter((r) => r.op === "create").length;

/** Runs the items to the end on us lanes and checks what the customer sees: each item once, completed, billed once. */
async function runToEnd(items: ReturnType<typeof AN>) {
  const agent = await fundedLiveAgent(srv);
  const batch = await mustCreate(srv.base, agent.api_key, { items, allowed_regions: ["us"] });
  const done = await untilTerminal(srv.base, agent.api_key, batch.id, 60_000);
  expect(done.status).toBe("completed");
  const results = await allResults(srv.base, agent.api_key, batch.id);
  expectOneResultEach(
    results,
    items.map((i) => i.customer_item_id),
  );
  expect(results.map((r) => r.status)).toEqual(items.map(() => "completed"));
  await expectBatchSettled(srv.database.db, batch.id);
  await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
  await expectNothingTwice(srv, agent.org_id, batch.id);
  // No provider batch ran (and billed us for) an item twice.
  const runs = providerRuns(providers, batch.id);
  expect([...runs.values()].filter((n) => n > 1)).toEqual([]);
  return { batch, results, runs };
}

/** The first time an Anthropic unit is marked submitted, its transaction fails: the worker "dies" after the create answered. */
const crashOnce = <T>(fn: () => Promise<T>) => crashOnceBeforeRecord(srv.database.db, "anthropic", fn);

describe("an Anthropic unit submitted again after the provider accepted it", () => {
  it("adopts the batch whose create answer was lost, found in the provider's list", async () => {
    providers.anthropic.setFaults({ loseCreates: 1 });
    const before = creates();
    const { batch, runs } = await runToEnd(AN(3, "alost"));
    expect(runs.size).toBe(3); // all three ran in the adopted batch
    expect(providers.anthropic.requests.filter((r) => r.fault === "lost_answer")).toHaveLength(1);
    expect(creates() - before).toBe(1); // the lost one, adopted: no second batch
    const receipt = await srv.database.db("route_events").where({ batch_id: batch.id, kind: "retry" });
    expect(receipt.length).toBeGreaterThan(0); // the lost answer was a failed submit, retried
  }, 60_000);

  it("adopts the batch whose create answered when the worker died before recording it", async () => {
    const before = creates();
    const { runs } = await crashOnce(() => runToEnd(AN(4, "akill")));
    expect(runs.size).toBe(4);
    expect(creates() - before).toBe(1);
  }, 60_000);

  it("a look-alike batch is adopted only provisionally: its results aren't exactly the part's items, so they are sent afresh and it is left alone", async () => {
    // Our create stalls and is dropped before the provider makes anything. Meanwhile another client
    // of the same account makes a batch of as many requests — most of them even under our custom_ids.
    providers.anthropic.setFaults({ rate: 1, count: 1, ops: ["create"], kinds: ["timeout"], timeoutMs: 1500 });
    const items = AN(5, "alike");
    const agent = await fundedLiveAgent(srv);
    const batch = await mustCreate(srv.base, agent.api_key, { items, allowed_regions: ["us"] });
    const db = srv.database.db;
    await waitFor(
      async () =>
        (await db("submit_intents")
          .join("work_units", "work_units.id", "submit_intents.work_unit_id")
          .where({ batch_id: batch.id })
          .first()) ?? undefined,
      10_000,
      "our create's intent",
    );
    const sdk = new Anthropic({ apiKey: providers.anthropic.apiKey, baseURL: providers.anthropic.baseUrl, maxRetries: 0 });
    const theirs = await sdk.messages.batches.create({
      requests: Array.from({ length: 5 }, (_, i) => ({
        custom_id: i < 4 ? `${batch.id}_${i}` : "theirs_4",
        params: { model: "claude-haiku-4", max_tokens: 64, messages: [{ role: "user" as const, content: `their question ${i}` }] },
      })),
    });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 60_000);
    expect(done.status).toBe("completed");
    // It was taken for our lost batch (the only candidate)…
    expect(await db("submit_intents").where({ provider_batch_id: theirs.id }).first()).toMatchObject({ found: true });
    // …but none of its answers became ours: each item got its own answer, billed once.
    const results = await allResults(srv.base, agent.api_key, batch.id);
    expectOneResultEach(
      results,
      items.map((i) => i.customer_item_id),
    );
    for (const r of results) {
      expect(r.status).toBe("completed");
      expect(JSON.stringify(r.output)).not.toContain("their question");
    }
    await expectBatchSettled(db, batch.id);
    await expectLedgerBalanced(db, agent.org_id, "live");
    await expectNothingTwice(srv, agent.org_id, batch.id);
    // Their batch: never cancelled nor deleted, ended on its own with all its requests answered.
    expect(providers.anthropic.requests.filter((r) => r.path.includes(theirs.id) && r.method !== "GET")).toEqual([]);
    const after = await sdk.messages.batches.retrieve(theirs.id);
    expect(after).toMatchObject({ processing_status: "ended", cancel_initiated_at: null, request_counts: { succeeded: 5 } });
  }, 60_000);

  it("a unit given up after its create answered but was never recorded stops that batch", async () => {
    // The worker dies after the create answered; every later submit fails to read that batch (500),
    // so after three failures the items move down the ladder — and the batch, ours by the create's
    // own answer, is cancelled rather than left running.
    providers.anthropic.hold();
    providers.anthropic.setFaults({ rate: 1, kinds: [500], ops: ["retrieve"] });
    const before = creates();
    const { batch } = await crashOnce(() => runToEnd(AN(6, "agiveup")));
    expect(creates() - before).toBe(1);
    const ours = [...providers.anthropic.state.batches.values()].filter((b) =>
      b.requests.some((r) => r.custom_id.startsWith(`${batch.id}_`)),
    );
    expect(ours).toHaveLength(1);
    await waitFor(() => (ours[0].cancelMs !== null ? true : undefined), 10_000, "the orphan batch cancelled");
    const units = await srv.database.db("work_units").where({ batch_id: batch.id }).orderBy("created_at");
    expect(units[0]).toMatchObject({ lane_id: "anthropic/claude-haiku-4/us/batch", status: "failed", submit_failures: 3 });
  }, 60_000);

  it("the housekeeping purge drops the intents no resubmit can match any more, and keeps the rest", async () => {
    const db = srv.database.db;
    await runToEnd(AN(7, "apurge"));
    const rows = await db("submit_intents").orderBy("id").select("id");
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const [settledLongAgo, madeLongAgo] = rows.map((r) => r.id as string);
    await db("submit_intents")
      .where({ id: settledLongAgo })
      .update({ settled_at: db.raw("now() - interval '8 days'") });
    await db("submit_intents")
      .where({ id: madeLongAgo })
      .update({ settled_at: null, created_at: db.raw("now() - interval '31 days'") });
    expect(await purgeOldIntents(db)).toBe(2);
    const left = (await db("submit_intents").select("id")).map((r) => r.id as string);
    expect(left).not.toContain(settledLongAgo);
    expect(left).not.toContain(madeLongAgo);
    expect(left).toHaveLength(rows.length - 2);
  }, 60_000);
});
