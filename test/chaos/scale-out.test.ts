import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../../server/billing/ledger.js";
import { makeItems, mustCreate, untilTerminal } from "../helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { providerRuns } from "../helpers/live.js";
import { type LiveProviders, liveProviders } from "../helpers/providers.js";
import { registerAgent } from "../helpers/server.js";
import { Cluster } from "./helpers/cluster.js";
import { expectBatchWhole } from "./helpers/invariants.js";

// Issue 13 part 5: two API processes and three worker processes on one database (design.md §1:
// scale-out is more processes on the same PostgreSQL, pg-boss handing each job to one of them).
// Several batches run at once — simulator batches of test keys and live batches on the provider
// fakes — and no work is done twice: no item sent to a provider twice, no unit collected twice.

let database: TestDatabase;
let providers: LiveProviders;
let cluster: Cluster;

beforeAll(async () => {
  database = await createTestDatabase();
  providers = await liveProviders({ turnaroundMs: 300 });
  cluster = await Cluster.create(database.url, {
    ...providers.env,
    BATCHROUTER_SIMULATOR: JSON.stringify({ turnaroundMs: 1500, laneTurnaroundMs: { "anthropic/*": 3000 } }),
  });
});
afterAll(async () => {
  await cluster?.close();
  await providers?.close();
  await database?.drop();
});

/** How many times each item was sent to a provider batch at the fakes, by `bat_…:idx`. */
function submissionsAtProviders(p: LiveProviders): Map<string, number> {
  const sent = new Map<string, number>();
  const add = (customId: string) => {
    const id = customId.replace(/_(\d+)$/, ":$1"); // Anthropic's custom ids use "_" for ":"
    sent.set(id, (sent.get(id) ?? 0) + 1);
  };
  for (const b of p.openai.state.batches.values()) for (const l of b.lines) add(l.custom_id);
  for (const b of p.anthropic.state.batches.values()) for (const r of b.requests) add(r.custom_id);
  return sent;
}

describe("two API and three worker processes on one database", () => {
  it("run several batches at once to completion, each item sent and collected once", async () => {
    // All five start together on a fresh database, racing to create the queues (this once failed
    // some of them with "deadlock detected": server/jobs/sender.ts). Debug logs name each job a
    // worker ran, so the test can see the work was shared.
    const started = await Promise.all([
      cluster.start("api"),
      cluster.start("api"),
      ...[0, 1, 2].map(() => cluster.start("worker", { LOG_LEVEL: "debug" })),
    ]);
    const apis = started.slice(0, 2);
    const workers = started.slice(2);

    // Three orgs; each creates a simulator batch through one API and a live batch through the other.
    const runs = (
      await Promise.all(
        [0, 1, 2].map(async (o) => {
          const agent = await registerAgent(apis[o % 2]!.base);
          await post(database.db, {
            org_id: agent.org_id,
            environment: "live",
            kind: "promo_grant",
            available_delta: 20_000_000,
            posting_key: "grant:chaos",
          });
          const test = [
            ...makeItems(1000, { prefix: `o${o}-sim`, model: "gpt-4o-mini" }),
            ...makeItems(500, { prefix: `o${o}-simh`, model: "claude-haiku-4" }),
          ];
          const live = [
            ...makeItems(40, { prefix: `o${o}-oa`, model: "gpt-4o-mini" }),
            ...makeItems(40, { prefix: `o${o}-an`, model: "claude-haiku-4" }),
          ];
          const [simBatch, liveBatch] = await Promise.all([
            mustCreate(apis[o % 2]!.base, agent.test_api_key, { items: test }),
            mustCreate(apis[(o + 1) % 2]!.base, agent.api_key, { items: live, allowed_regions: ["us"] }),
          ]);
          return [
            { agent, key: agent.test_api_key, environment: "test" as const, items: test, batch: simBatch, base: apis[(o + 1) % 2]!.base },
            { agent, key: agent.api_key, environment: "live" as const, items: live, batch: liveBatch, base: apis[o % 2]!.base },
          ];
        }),
      )
    ).flat();

    for (const r of runs) expect((await untilTerminal(r.base, r.key, r.batch.id, 120_000)).status, r.batch.id).toBe("completed");
    const db = database.db;
    for (const r of runs) {
      const { results } = await expectBatchWhole({
        db,
        base: r.base,
        key: r.key,
        orgId: r.agent.org_id,
        environment: r.environment,
        batchId: r.batch.id,
        customerItemIds: r.items.map((i) => i.customer_item_id),
      });
      // No faults here: every item completes on its first attempt — an item handed out twice
      // (two workers submitting one unit) would have been counted twice.
      expect(results.filter((x) => x.status !== "completed")).toEqual([]);
      const attempts = await db("batch_items").where({ batch_id: r.batch.id }).whereNot({ attempts: 1 }).count("* as n");
      expect(Number(attempts[0]!.n), "items attempted more than once").toBe(0);
      // Dispatched once; each unit submitted once and collected once, on the lane it was planned for.
      const events = await db("route_events").where({ batch_id: r.batch.id, kind: "dispatched" });
      expect(events).toHaveLength(1);
      const units = await db("work_units").where({ batch_id: r.batch.id });
      expect(units.map((u) => u.status)).toEqual(units.map(() => "collected"));
    }
    // The providers' own record: every live item was sent in exactly one provider batch and answered once.
    const sent = submissionsAtProviders(providers);
    const liveItems = runs.filter((r) => r.environment === "live").flatMap((r) => r.items.map((_, idx) => `${r.batch.id}:${idx}`));
    expect(liveItems.filter((id) => sent.get(id) !== 1)).toEqual([]);
    expect([...sent.keys()].filter((id) => !liveItems.includes(id))).toEqual([]);
    for (const r of runs.filter((x) => x.environment === "live"))
      expect([...providerRuns(providers, r.batch.id).values()].filter((n) => n !== 1)).toEqual([]);
    // The work really was shared: every worker process ran batch steps, and none died.
    for (const w of workers) expect(w.output().match(/"job":"(wu|batch)\.[a-z]+".*"msg":"job done"/g)?.length ?? 0).toBeGreaterThan(0);
    expect(cluster.alive()).toHaveLength(5);
  }, 240_000);
});
