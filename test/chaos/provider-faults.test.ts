import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../../server/billing/ledger.js";
import { CatalogStore } from "../../server/catalog/store.js";
import { makeItems, mustCreate, untilTerminal } from "../helpers/batches.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { providerRuns, resetFaults } from "../helpers/live.js";
import { type LiveProviders, liveProviders } from "../helpers/providers.js";
import { registerAgent } from "../helpers/server.js";
import { Cluster } from "./helpers/cluster.js";
import { expectBatchWhole } from "./helpers/invariants.js";
import { chaosSeed, seedMeetingFault } from "./helpers/seed.js";

// Issue 13 part 5, provider faults at 30 %: test/providers-faults.test.ts runs the same faults on
// one in-process server; here live keys drive the real adapters against the loopback OpenAI and
// Anthropic fakes from separate API and worker processes — two workers racing for the same
// provider calls — with more items and two orgs' batches at once.

let database: TestDatabase;
let providers: LiveProviders;
let cluster: Cluster;

beforeAll(async () => {
  database = await createTestDatabase();
  providers = await liveProviders();
  cluster = await Cluster.create(database.url, providers.env);
});
afterAll(async () => {
  await cluster?.close();
  await providers?.close();
  await database?.drop();
});

describe("provider faults at 30 % across processes", () => {
  it("every item ends once, nothing is billed or run twice, every lane within the batch's constraints", async () => {
    const seed = chaosSeed("provider faults");
    const api = await cluster.start("api");
    await Promise.all([cluster.start("worker"), cluster.start("worker")]);
    // Every transient kind, on every call of both providers (submit, poll, results, real-time). The
    // Anthropic draw is seeded so one of its first two calls faults: see seedMeetingFault.
    providers.openai.setFaults({ rate: 0.3, kinds: ["timeout", "503", "429", "500"], timeoutMs: 150, retryAfterSeconds: 0 });
    providers.anthropic.setFaults({
      rate: 0.3,
      kinds: [429, 500, 529, "timeout"],
      timeoutMs: 150,
      retryAfterSeconds: 0.05,
      seed: seedMeetingFault(seed, 0.3, 2),
    });

    const runs = await Promise.all(
      ["a", "b"].map(async (org) => {
        const agent = await registerAgent(api.base);
        // Live keys start at zero: an operator's grant funds them.
        await post(database.db, {
          org_id: agent.org_id,
          environment: "live",
          kind: "promo_grant",
          available_delta: 50_000_000,
          posting_key: "grant:chaos",
        });
        const items = [
          ...makeItems(150, { prefix: `${org}-oa`, model: "gpt-4o-mini" }),
          ...makeItems(150, { prefix: `${org}-an`, model: "claude-haiku-4" }),
        ];
        const batch = await mustCreate(api.base, agent.api_key, { items, allowed_regions: ["us"], privacy_tier: "no_training" });
        return { agent, items, batch };
      }),
    );
    for (const r of runs) expect((await untilTerminal(api.base, r.agent.api_key, r.batch.id, 150_000)).status).toBe("completed");
    resetFaults(providers);

    // The faults were met on both providers' wires.
    const faults = [providers.openai.requests.filter((r) => r.fault).length, providers.anthropic.requests.filter((r) => r.fault).length];
    process.stdout.write(`[chaos] provider faults met: OpenAI ${faults[0]}, Anthropic ${faults[1]}\n`);
    expect(faults[0], "OpenAI faults").toBeGreaterThan(0);
    expect(faults[1], "Anthropic faults").toBeGreaterThan(0);
    const { laneById } = await new CatalogStore(database.db).get();
    for (const { agent, items, batch } of runs) {
      const { results } = await expectBatchWhole({
        db: database.db,
        base: api.base,
        key: agent.api_key,
        orgId: agent.org_id,
        environment: "live",
        batchId: batch.id,
        customerItemIds: items.map((i) => i.customer_item_id),
      });
      // Transient faults are retried: none is left failed.
      expect(results.filter((r) => r.status !== "completed").map((r) => r.error)).toEqual([]);
      // No provider batch answered an item a second time (the fakes' own record of work done).
      expect([...providerRuns(providers, batch.id)].filter(([, n]) => n > 1)).toEqual([]);
      // Fallbacks never crossed the region or privacy constraint.
      const lanes = await database.db("work_units").where({ batch_id: batch.id }).distinct("lane_id").pluck("lane_id");
      for (const id of lanes) {
        const lane = laneById.get(id);
        expect(lane?.region, id).toBe("us");
        expect(lane!.privacy.no_training || lane!.privacy.zdr, id).toBe(true);
      }
    }
    expect(cluster.alive()).toHaveLength(3);
  }, 240_000);
});
