import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { type OpenAiFake, startOpenAiFake } from "../../test/fakes/openai-fake.js";
import { DEFAULT_FAULTS } from "../../test/fakes/openai-fake-faults.js";
import { openAiBatchAdapter } from "./openai-batch.js";
import { findUnitBatches, partTag } from "./openai-batch-adopt.js";
import { openAiHttp } from "./openai-http.js";
import { chatItem, collectAll, request, testLane } from "./test-fixtures.js";
import type { ProviderAdapter, ProviderJobRef } from "./types.js";

// A submit the provider accepted but whose answer never reached us is submitted again; the second
// submit must find the first provider batch (by the unit id in its metadata) instead of paying twice.

const KEY = "sk-test-openai-adopt";
let fake: OpenAiFake;
let endpoint: ProviderEndpoint;
let adapter: ProviderAdapter;
const lane = testLane({ provider: "openai", model: "gpt-4o-mini" });
beforeAll(async () => {
  fake = await startOpenAiFake({ apiKey: KEY, turnaroundMs: 10 });
  endpoint = { slug: "openai", kind: "openai", baseUrl: `${fake.baseUrl}/v1`, apiKey: KEY, maxConcurrency: 4, requestsPerMinute: 0 };
  adapter = openAiBatchAdapter(lane, endpoint);
});
afterAll(async () => fake?.close());
afterEach(() => fake.setFaults(DEFAULT_FAULTS));

let n = 0;
const unitOf = (size: number) => {
  const id = `wu_adopt_${++n}`;
  const items = Array.from({ length: size }, (_, i) => ({ ...chatItem(`c${i}`, `ticket ${i} of ${id}`), item_id: `bat_adopt${n}:${i}` }));
  return request(items, lane, id);
};
const creates = () => fake.requests.filter((r) => r.method === "POST" && r.path === "/v1/batches");

async function untilDone(ref: ProviderJobRef) {
  for (let i = 0; i < 500; i++) {
    const p = await adapter.poll(ref);
    if (p.status !== "in_progress") return p;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("provider batch did not end");
}

describe("submitting a unit again after a lost answer", () => {
  it("adopts the batch the provider already created: one create in all, every item collected", async () => {
    const req = unitOf(3);
    const before = creates().length;
    fake.setFaults({ loseBatchCreates: 1 });
    const lost = await adapter.submit(req).catch((e: unknown) => e);
    expect(lost).toMatchObject({ retryable: true });
    expect(adapter.classify(lost)).toBe("retryable");

    const ref = await adapter.submit({ ...req, resubmit: true });
    expect(creates().length - before).toBe(1);
    const [only] = [...fake.state.batches.values()].filter((b) => b.wire.metadata?.work_unit_id === req.work_unit_id);
    expect(ref.provider_job_id).toBe(only!.wire.id);
    expect(only!.wire.metadata).toEqual(
      partTag(
        req.work_unit_id,
        0,
        req.items.map((i) => i.item_id),
      ),
    );
    expect((await untilDone(ref)).status).toBe("completed");
    const results = await collectAll(adapter, ref, req);
    expect(results.map((r) => [r.item_id, r.status]).sort()).toEqual(req.items.map((i) => [i.item_id, "completed"]).sort());
    // The lost create's file was kept for the batch that reads it, and is released with it.
    await adapter.release!(ref);
    expect(fake.state.files.has(only!.wire.input_file_id)).toBe(false);
  });

  it("never adopts another unit's batch, a batch of other items, or one that was cancelled", async () => {
    const first = unitOf(2);
    const lists = () => fake.requests.filter((r) => r.method === "GET" && r.path === "/v1/batches").length;
    const listsBefore = lists();
    const ref = await adapter.submit(first);
    expect(lists()).toBe(listsBefore); // a first submit has nothing to look for
    // Same unit id, different items (the unit's items changed): a new batch.
    const changed = { ...first, items: first.items.slice(0, 1), resubmit: true };
    const other = await adapter.submit(changed);
    expect(other.provider_job_id).not.toBe(ref.provider_job_id);
    // Cancelled at the provider: nothing to wait for, so the items go out afresh.
    await adapter.cancel(other);
    const again = await adapter.submit(changed);
    expect(again.provider_job_id).not.toBe(other.provider_job_id);
    // A different unit with the very same items: its own batch.
    const twin = await adapter.submit({ ...first, work_unit_id: `${first.work_unit_id}_other`, resubmit: true });
    expect(twin.provider_job_id).not.toBe(ref.provider_job_id);
    for (const r of [ref, again, twin]) await adapter.cancel(r);
  });

  it("finds a unit's batch past the first page of the provider's list", async () => {
    const target = unitOf(1);
    const ref = await adapter.submit(target);
    // Newer batches of other units push it down the list (newest first, 100 a page).
    for (let i = 0; i < 3; i++) await adapter.submit(unitOf(1));
    const http = openAiHttp(endpoint);
    const small = {
      ...http,
      json: <T>(m: "GET" | "POST" | "DELETE", p: string, b?: unknown) => http.json<T>(m, p.replace("limit=100", "limit=2"), b),
    };
    const found = await findUnitBatches(small, target.work_unit_id);
    expect([...found.values()].map((b) => b.id)).toEqual([ref.provider_job_id]);
    const lists = fake.requests.filter((r) => r.method === "GET" && r.path === "/v1/batches" && r.query.includes("limit=2"));
    expect(lists.length).toBeGreaterThan(1);
    expect(lists.at(-1)!.query).toContain("after=");
  });
});
