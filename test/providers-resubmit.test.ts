import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { crashOnceBeforeRecord, expectNothingTwice, fundedLiveAgent, providerRuns, resetFaults } from "./helpers/live.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";

// Issue 12: a work unit the provider accepted but we never recorded (the worker died in between, or
// the answer was lost) is submitted again; the provider must not get — nor bill — a second batch.
// Live keys, so the real OpenAI Batch adapter speaks to the loopback fake.

let providers: LiveProviders;
let srv: TestServer;

beforeAll(async () => {
  providers = await liveProviders({ turnaroundMs: 20 });
  // A small backoff base: the failed submits are retried in milliseconds.
  srv = await startTestServer(providers.env, { worker: { retryBaseMs: 20 } });
});
afterEach(() => resetFaults(providers));
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

const fundedAgent = () => fundedLiveAgent(srv);

const batchCreates = () => providers.openai.requests.filter((r) => r.method === "POST" && r.path === "/v1/batches").length;

/** Runs a gpt-4o-mini batch (one OpenAI batch unit) and checks it ends completed, each item once, billed once. */
async function runOnce(prefix: string) {
  const agent = await fundedAgent();
  const before = batchCreates();
  const batch = await mustCreate(srv.base, agent.api_key, { items: makeItems(3, { prefix, model: "gpt-4o-mini" }) });
  const done = await untilTerminal(srv.base, agent.api_key, batch.id, 60_000);
  expect(done.status).toBe("completed");
  const results = await allResults(srv.base, agent.api_key, batch.id);
  expect(results.map((r) => [r.customer_item_id, r.status]).sort()).toEqual(
    Array.from({ length: 3 }, () => [expect.stringContaining(prefix), "completed"]),
  );
  expect(batchCreates() - before).toBe(1);
  const units = await srv.database.db("work_units").where({ batch_id: batch.id });
  expect(units).toHaveLength(1);
  expect(units[0].status).toBe("collected");
  await expectBatchSettled(srv.database.db, batch.id);
  await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
  return { batch, unit: units[0] };
}

describe("a unit submitted again after the provider accepted it", () => {
  it("adopts the provider batch when the worker failed before recording it (the job is retried)", async () => {
    // The first time an OpenAI unit is marked submitted, its transaction fails: the provider holds
    // the batch, we hold nothing.
    await crashOnceBeforeRecord(srv.database.db, "openai", () => runOnce("crash"));
  });

  it("adopts the provider batch when the create's answer was lost on the way back", async () => {
    providers.openai.setFaults({ loseBatchCreates: 1 });
    const { batch } = await runOnce("lost");
    expect(providers.openai.requests.filter((r) => r.fault === "lost_answer")).toHaveLength(1);
    const receipt = await srv.database.db("route_events").where({ batch_id: batch.id, kind: "retry" });
    expect(receipt.length).toBeGreaterThan(0); // the lost answer was a failed submit, retried
  });

  it("cancels the provider batch when the last allowed submit lost its answer, and the items end on the next lane", async () => {
    const agent = await fundedAgent();
    const seen = providers.openai.requests.length;
    providers.openai.hold(); // the orphan must still be running when the unit gives up
    // Submit 1's create and submit 2's listing answer 500 (no batch made); submit 3's create is
    // carried out and its answer lost. Three failures hand the items down the ladder, so no
    // submit of this unit will ever come to adopt that batch.
    providers.openai.setFaults({ failBatches: 2, kinds: ["500"], loseBatchCreates: 1 });
    const items = makeItems(3, { prefix: "orphan", model: "gpt-4o-mini" });
    const batch = await mustCreate(srv.base, agent.api_key, { items, allowed_regions: ["us"] });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id, 60_000);
    expect(done.status).toBe("completed");
    const results = await allResults(srv.base, agent.api_key, batch.id);
    expect(results.map((r) => [r.customer_item_id, r.status, r.lane_id]).sort()).toEqual(
      items.map((it) => [it.customer_item_id, "completed", "openai/gpt-4o-mini/us/realtime"]),
    );
    const db = srv.database.db;
    const [unit] = await db("work_units").where({ batch_id: batch.id }).orderBy("created_at");
    expect(unit).toMatchObject({ lane_id: "openai/gpt-4o-mini/us/batch", status: "failed", submit_failures: 3 });
    expect(providers.openai.requests.slice(seen).filter((r) => r.fault === "lost_answer")).toHaveLength(1);
    // The batch the lost answer left: the one the provider made for the unit, cancelled, never run.
    const orphans = [...providers.openai.state.batches.values()].filter((b) => b.wire.metadata?.work_unit_id === unit.id);
    expect(orphans).toHaveLength(1);
    await waitFor(() => (["cancelling", "cancelled"].includes(orphans[0].wire.status) ? true : undefined), 10_000, "the orphan cancelled");
    expect(providerRuns(providers, batch.id).size).toBe(0);
    await expectBatchSettled(db, batch.id);
    await expectLedgerBalanced(db, agent.org_id, "live");
    await expectNothingTwice(srv, agent.org_id, batch.id);
  }, 60_000);
});
