import { expect } from "vitest";
import type { Db } from "../../db/connection.js";
import { post } from "../../server/billing/ledger.js";
import type { Lane } from "../../server/catalog/types.js";
import { DEFAULT_FAULTS } from "../fakes/openai-fake-faults.js";
import type { LiveProviders } from "./providers.js";
import { registerAgent, type TestServer } from "./server.js";

/**
 * Helpers of the tests that run live keys against the provider fakes (providers-faults,
 * quickstarts-live): funding a live key, resetting the fakes, and reading what the pipeline did.
 */

/** Funds the org's live environment with a promo grant (live keys start at zero and would answer 402). */
export async function fundLive(srv: TestServer, orgId: string, micros = 20_000_000): Promise<void> {
  await post(srv.database.db, {
    org_id: orgId,
    environment: "live",
    kind: "promo_grant",
    available_delta: micros,
    posting_key: "grant:live",
  });
}

/** A new agent whose live balance holds `micros` (a live key has no signup credit). */
export async function fundedLiveAgent(srv: TestServer, micros = 20_000_000) {
  const agent = await registerAgent(srv.base);
  await fundLive(srv, agent.org_id, micros);
  return agent;
}

/** Both fakes back to no faults (the OpenAI fake merges settings, so the counters must go too). */
export function resetFaults(p: LiveProviders): void {
  p.openai.setFaults({ ...DEFAULT_FAULTS });
  p.anthropic.setFaults({});
  p.openai.release();
  p.anthropic.release();
}

/** Every lane the batch's items and work units were ever on, as the catalog describes it. */
export async function lanesTouched(srv: TestServer, batchId: string): Promise<Lane[]> {
  const db = srv.database.db;
  const ids = new Set<string>();
  for (const r of await db("work_units").where({ batch_id: batchId }).select("lane_id")) ids.add(r.lane_id);
  for (const r of await db("batch_items").where({ batch_id: batchId }).whereNotNull("lane_id").select("lane_id")) ids.add(r.lane_id);
  const { laneById } = await srv.platform.appDeps.catalog.get();
  return [...ids].map((id) => {
    const lane = laneById.get(id);
    if (!lane) throw new Error(`lane ${id} is not in the catalog`);
    return lane;
  });
}

/** Exactly one result per item asked for, each with its own customer_item_id, none left open. */
export function expectOneResultEach(results: { customer_item_id: string; status: string }[], ids: string[]): void {
  expect(results.map((r) => r.customer_item_id).sort()).toEqual([...ids].sort());
  for (const r of results) expect(["completed", "failed"]).toContain(r.status);
}

/** No ledger posting of the org repeats, and no item earned two settlements (one per changed row set). */
export async function expectNothingTwice(srv: TestServer, orgId: string, batchId: string): Promise<void> {
  const db = srv.database.db;
  const dup = await db("ledger_entries")
    .where({ org_id: orgId })
    .groupBy("environment", "posting_key")
    .havingRaw("count(*) > 1")
    .select("posting_key");
  expect(dup).toEqual([]);
  const settlements = await db("ledger_entries").where({ batch_id: batchId, kind: "settlement" });
  const items = await db("batch_items").where({ batch_id: batchId, status: "completed" });
  // Each settlement covers ≥ 1 completed item of one chunk, so there can't be more of them than items.
  expect(settlements.length).toBeLessThanOrEqual(items.length);
}

/**
 * How many provider batches ran each item of the batch to success, by item id (`bat_…:idx`): the batch
 * lanes' own record of work done, so an item answered twice at the provider shows as 2. (OpenAI's
 * fake answers every line of a completed batch; Anthropic's results say which succeeded.)
 */
export function providerRuns(p: LiveProviders, batchId: string): Map<string, number> {
  const runs = new Map<string, number>();
  // Anthropic's custom_ids are our ids with ":" → "_" (anthropic-batch-results.ts).
  const add = (customId: string) => {
    const id = customId.replace(/_(\d+)$/, ":$1");
    if (id.startsWith(`${batchId}:`)) runs.set(id, (runs.get(id) ?? 0) + 1);
  };
  for (const b of p.openai.state.batches.values()) if (b.wire.status === "completed") for (const l of b.lines) add(l.custom_id);
  for (const b of p.anthropic.state.batches.values())
    for (const r of b.results ?? []) if ((r.result as { type?: string }).type === "succeeded") add(r.custom_id);
  return runs;
}

/**
 * Runs `fn` while the first transaction that marks a `provider` unit submitted fails: the worker
 * "dies" after the provider accepted the job and before we recorded it (the job is retried). A
 * sequence counts the attempts, since its nextval survives the rollback; checks the crash happened.
 */
export async function crashOnceBeforeRecord<T>(db: Db, provider: "openai" | "anthropic", fn: () => Promise<T>): Promise<T> {
  const name = `crash_before_record_${provider}`;
  await db.raw(`CREATE SEQUENCE ${name}_seq`);
  await db.raw(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'submitted' AND OLD.status = 'pending' AND NEW.provider = '${provider}' AND nextval('${name}_seq') = 1 THEN
        RAISE EXCEPTION 'simulated crash between the provider''s accept and our record';
      END IF;
      RETURN NEW;
    END $$`);
  await db.raw(`CREATE TRIGGER ${name} BEFORE UPDATE ON work_units FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  try {
    const out = await fn();
    expect(Number((await db.raw(`SELECT last_value FROM ${name}_seq`)).rows[0].last_value)).toBeGreaterThan(1);
    return out;
  } finally {
    await db.raw(`DROP TRIGGER ${name} ON work_units`);
    await db.raw(`DROP FUNCTION ${name}()`);
    await db.raw(`DROP SEQUENCE ${name}_seq`);
  }
}
