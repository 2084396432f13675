import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { hasOpenItems } from "../db/queries/batch-items.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

let srv: TestServer;
let agent: Awaited<ReturnType<typeof registerAgent>>;
let key: string;
beforeAll(async () => {
  // A turnaround long enough to see the batch mid-flight, short enough to keep the file quick.
  srv = await startTestServer({}, { worker: { simulator: { turnaroundMs: 1500 } } });
  agent = await registerAgent(srv.base);
  key = agent.test_api_key;
});
afterAll(async () => srv?.close());

const LIFECYCLE = ["pending", "queued", "routing", "dispatched", "processing", "completing", "completed"];

/** 130 items over two models; three fail on a content-policy trigger. */
function manifest() {
  const failing = new Set([5, 64, 101]);
  const a = makeItems(70, {
    prefix: "mini",
    model: "gpt-4o-mini",
    text: (i) => (failing.has(i) ? "[simulate:content_policy]" : undefined),
  });
  const b = makeItems(60, {
    prefix: "haiku",
    model: "claude-haiku-4",
    text: (i) => (failing.has(i + 70) ? "[simulate:content_policy]" : undefined),
  });
  return [...a, ...b];
}

describe("a 130-item batch over two models, end to end", () => {
  let batchId: string;
  let quote: any;
  const items = manifest();

  it("moves forward through the lifecycle with live counts, and answers {batch, id, status, state}", async () => {
    quote = (await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } })).body;
    expect(quote.work_units.map((u: any) => u.lane_id).sort()).toEqual([
      "anthropic/claude-haiku-4/us/batch",
      "openai/gpt-4o-mini/us/batch",
    ]);
    const created = await mustCreate(srv.base, key, { quote_id: quote.quote_id, items });
    batchId = created.id;
    expect(created).toMatchObject({ object: "batch", status: "pending", state: "pending", item_count: 130, quote_id: quote.quote_id });
    expect(created.counts).toEqual({ total: 130, queued: 130, processing: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 });

    // Before the end: no results, no files.
    const early = await call(srv.base, "GET", `/v1/batches/${batchId}/results`, { key });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe("results_not_ready");
    const earlyFile = await call(srv.base, "GET", `/v1/batches/${batchId}/artifact-url?kind=output`, { key });
    expect(earlyFile.status).toBe(409);
    expect(earlyFile.body.error.code).toBe("results_not_ready");

    const seen: string[] = [];
    const done = await waitFor(
      async () => {
        const res = await call(srv.base, "GET", `/v1/batches/${batchId}`, { key });
        expect(res.status).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(["batch", "id", "object", "state", "status"]);
        expect(res.body.id).toBe(batchId);
        expect(res.body.batch.status).toBe(res.body.status);
        expect(res.body.batch.state).toBe(res.body.state);
        const c = res.body.batch.counts;
        // Every item is in exactly one bucket at every moment.
        expect(c.queued + c.processing + c.completed + c.failed + c.cancelled + c.expired).toBe(130);
        if (seen.at(-1) !== res.body.status) seen.push(res.body.status);
        // (While `processing`, items may all sit between attempts — queued for a retry — so no
        // per-bucket claim here beyond the total.)
        return ["completed", "failed", "cancelled", "expired"].includes(res.body.status) ? res.body : undefined;
      },
      30_000,
      `batch ${batchId} to end`,
    );

    // A fast run can pass through `processing` between two polls; the order is what must hold.
    expect(seen.at(-1)).toBe("completed");
    // Never backwards.
    const ranks = seen.map((s) => LIFECYCLE.indexOf(s));
    expect(ranks.every((r) => r >= 0)).toBe(true);
    expect([...ranks].sort((x, y) => x - y)).toEqual(ranks);

    expect(done.state).toBe("completed");
    expect(done.batch.counts).toEqual({ total: 130, queued: 0, processing: 0, completed: 127, failed: 3, cancelled: 0, expired: 0 });
    expect(done.batch.completed_at).not.toBeNull();
    expect(done.batch.dispatched_at).not.toBeNull();
    expect(done.batch.lanes.map((l: any) => [l.lane_id, l.item_count, l.status]).sort()).toEqual([
      ["anthropic/claude-haiku-4/us/batch", 60, "done"],
      ["openai/gpt-4o-mini/us/batch", 70, "done"],
    ]);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "test");
    await expectBatchSettled(srv.database.db, batchId);
  });

  it("pages results in manifest order with cursor and limit, and filters by status", async () => {
    const def = await call(srv.base, "GET", `/v1/batches/${batchId}/results`, { key });
    expect(def.status).toBe(200);
    expect(def.body.results).toHaveLength(100); // the default page
    expect(def.body.has_more).toBe(true);

    const paged: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await call(srv.base, "GET", `/v1/batches/${batchId}/results?limit=17${cursor ? `&cursor=${cursor}` : ""}`, { key });
      expect(res.status).toBe(200);
      expect(res.body.results.length).toBeLessThanOrEqual(17);
      paged.push(...res.body.results);
      cursor = res.body.next_cursor;
      expect(res.body.has_more).toBe(cursor !== null);
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(130 / 17));
    expect(paged.map((r) => r.customer_item_id)).toEqual(items.map((i) => i.customer_item_id));

    const all = await allResults(srv.base, key, batchId);
    expect(all).toEqual(paged);
    for (const r of all) {
      expect(r.status === "completed" ? r.error : r.output).toBeNull();
      if (r.status === "completed") {
        expect(r.usage.input_tokens).toBeGreaterThan(0);
        expect(r.usage.output_tokens).toBeGreaterThan(0);
        expect(micros(r.cost)).toBeGreaterThan(0);
        expect(r.lane_id).toBe(r.customer_item_id.startsWith("mini") ? "openai/gpt-4o-mini/us/batch" : "anthropic/claude-haiku-4/us/batch");
      }
    }

    const completed = await allResults(srv.base, key, batchId, "status=completed&limit=50");
    const failed = await allResults(srv.base, key, batchId, "status=failed&limit=1");
    expect(completed).toHaveLength(127);
    expect(completed.every((r) => r.status === "completed")).toBe(true);
    expect(failed.map((r) => r.customer_item_id)).toEqual(["mini-5", "mini-64", "haiku-31"]);
    for (const r of failed) {
      expect(r.error).toMatchObject({ code: "content_policy" });
      expect(micros(r.cost)).toBe(0);
    }

    for (const bad of ["limit=0", "limit=1001", "limit=abc", "status=cancelled", "cursor=-1", "cursor=abc"]) {
      const res = await call(srv.base, "GET", `/v1/batches/${batchId}/results?${bad}`, { key });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect((await call(srv.base, "GET", `/v1/batches/${batchId}/results?limit=1000`, { key })).body.results).toHaveLength(130);
  });

  it("serves the output, errors and receipt files through signed URLs, and refuses tampered ones", async () => {
    const expected: Record<string, number> = { output: 127, errors: 3 };
    const urls: Record<string, string> = {};
    for (const kind of ["output", "errors", "receipt"]) {
      const link = await call(srv.base, "GET", `/v1/batches/${batchId}/artifact-url?kind=${kind}`, { key });
      expect(link.status).toBe(200);
      expect(link.body).toMatchObject({ kind, format: "jsonl" });
      const ttl = Date.parse(link.body.expires_at) - Date.now();
      expect(ttl).toBeGreaterThan(14 * 60_000);
      expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 1000);
      urls[kind] = link.body.url;
      const file = await fetch(link.body.url);
      expect(file.status).toBe(200);
      const bytes = Buffer.from(await file.arrayBuffer());
      expect(bytes.length).toBe(link.body.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(link.body.sha256);
      const lines = bytes
        .toString("utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      if (kind === "receipt") {
        expect(lines[0]).toMatchObject({ type: "summary", batch_id: batchId, item_count: 130 });
        expect(lines.some((l) => l.type === "route_event" && l.kind === "dispatched")).toBe(true);
      } else {
        expect(lines).toHaveLength(expected[kind]!);
        expect(lines.every((l) => l.status === (kind === "output" ? "completed" : "failed"))).toBe(true);
      }
    }
    const results = await allResults(srv.base, key, batchId, "status=completed&limit=1000");
    const outputLines = (await (await fetch(urls.output!)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(outputLines).toEqual(results);

    // Any change to a signed link voids it.
    const u = new URL(urls.output!);
    const variants: URL[] = [];
    for (const [name, value] of u.searchParams) {
      const v = new URL(u);
      v.searchParams.set(name, name === "expires" ? String(Number(value) + 3600) : value.replace(/.$/, (c) => (c === "a" ? "b" : "a")));
      variants.push(v);
    }
    const other = new URL(u);
    other.searchParams.set("key", (u.searchParams.get("key") ?? "").replace("output.jsonl", "errors.jsonl"));
    variants.push(other);
    expect(variants.length).toBeGreaterThanOrEqual(3);
    for (const v of variants) {
      const res = await fetch(v);
      expect(res.status, v.search).toBe(403);
      expect((await res.json()).error.code).toBe("forbidden");
    }
    expect((await call(srv.base, "GET", `/v1/batches/${batchId}/artifact-url?kind=input`, { key })).status).toBe(400);
  });

  it("explains the route and the bill", async () => {
    const route = await call(srv.base, "GET", `/v1/batches/${batchId}/route-receipt`, { key });
    expect(route.status).toBe(200);
    expect(route.body).toMatchObject({ object: "route_receipt", batch_id: batchId, execution: "simulated", routing_mode: "cheapest" });
    expect(route.body.selected_lanes.map((l: any) => l.lane_id).sort()).toEqual([
      "anthropic/claude-haiku-4/us/batch",
      "openai/gpt-4o-mini/us/batch",
    ]);
    expect(route.body.rejected_lanes.length).toBeGreaterThan(0);
    for (const l of route.body.rejected_lanes) expect(l.rejection_reasons.length).toBeGreaterThan(0);
    expect(route.body.work_units.map((u: any) => [u.lane_id, u.item_count, u.status]).sort()).toEqual([
      ["anthropic/claude-haiku-4/us/batch", 60, "collected"],
      ["openai/gpt-4o-mini/us/batch", 70, "collected"],
    ]);
    expect(route.body.fallbacks).toEqual([]);
    expect(route.body.retries).toEqual([]);
    expect(route.body.events.map((e: any) => e.kind)).toEqual(["routed", "dispatched"]);

    const bill = await call(srv.base, "GET", `/v1/batches/${batchId}/billing-receipt`, { key });
    expect(bill.status).toBe(200);
    const r = bill.body;
    const results = await allResults(srv.base, key, batchId);
    const db = srv.database.db;
    const row = await db("batches").where({ id: batchId }).first();
    expect(r.quoted_total).toEqual(quote.pricing_estimate.total);
    expect(micros(r.reserved)).toBe(micros(quote.pricing_estimate.total));
    expect(micros(r.settled_total)).toBe(micros(r.provider_subtotal) + micros(r.batchrouter_fee));
    expect(micros(r.settled_total)).toBeLessThanOrEqual(micros(r.quoted_total));
    expect(micros(r.released)).toBe(micros(r.reserved) - micros(r.settled_total));
    expect(micros(r.sla_fee_refund)).toBe(0);
    expect(r.settled_at).not.toBeNull();
    expect(micros(r.provider_subtotal)).toBe(Number(row.settled_provider_micros));
    expect(r.provider_lanes).toHaveLength(2);
    for (const lane of r.provider_lanes) {
      const mine = results.filter((x) => x.lane_id === lane.lane_id);
      const done = mine.filter((x) => x.status === "completed");
      expect(lane.items).toBe(done.length);
      expect(Number(lane.input_tokens)).toBe(done.reduce((s, x) => s + x.usage.input_tokens, 0));
      expect(Number(lane.output_tokens)).toBe(done.reduce((s, x) => s + x.usage.output_tokens, 0));
      expect(micros(lane.provider_cost)).toBe(done.reduce((s, x) => s + micros(x.cost), 0));
      // Billed at the quoted lane's unit prices.
      const ql = quote.quote_lanes.find((q: any) => q.lane_id === lane.lane_id);
      const inP = micros(ql.unit_price.input_per_mtok);
      const outP = micros(ql.unit_price.output_per_mtok);
      for (const x of done) expect(micros(x.cost)).toBe(Math.ceil((x.usage.input_tokens * inP + x.usage.output_tokens * outP) / 1e6));
    }
    expect(r.rejected_lanes.length).toBeGreaterThan(0);

    const polled = await call(srv.base, "GET", `/v1/batches/${batchId}?include_billing_receipt=true`, { key });
    expect(polled.body.batch.billing_receipt).toEqual(r);

    // What the account shows agrees with the receipt.
    const account = await call(srv.base, "GET", "/v1/auth/account", { key });
    expect(account.body.reserved_balance.amount).toBe("0.000000");
    expect(100 - Number(account.body.credit_balance.amount)).toBeCloseTo(Number(r.settled_total.amount), 6);
  });
});

describe("whether a batch has open items (asked as each work unit closes)", () => {
  it("says yes while a unit runs, no once all ended — and still yes for an open item outside any running unit", async () => {
    const db = srv.database.db;
    const created = await mustCreate(srv.base, key, { items: makeItems(12, { prefix: "open" }) });
    await waitFor(
      async () => ((await db("work_units").where({ batch_id: created.id, status: "submitted" }).first()) ? true : undefined),
      10_000,
      "a unit submitted",
    );
    expect(await hasOpenItems(db, created.id)).toBe(true);
    expect((await untilTerminal(srv.base, key, created.id, 30_000)).status).toBe("completed");
    expect(await hasOpenItems(db, created.id)).toBe(false);
    // An item left open in a unit that ended (no running unit holds it) is still found.
    await db("batch_items").where({ batch_id: created.id, idx: 11 }).update({ status: "retry" });
    expect(await hasOpenItems(db, created.id)).toBe(true);
    await db("batch_items").where({ batch_id: created.id, idx: 11 }).update({ status: "completed" });
  }, 40_000);
});

describe("listing batches", () => {
  it("pages newest first with cursor (and its alias after), and filters by status", async () => {
    const other = await registerAgent(srv.base);
    const k = other.test_api_key;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await mustCreate(srv.base, k, { items: makeItems(1, { prefix: `list${i}` }) })).id);
    const newestFirst = [...ids].reverse();
    // All five end completed; a sixth, cancelled at once, is the only other status in the list.
    for (const id of ids) await untilTerminal(srv.base, k, id);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await call(srv.base, "GET", `/v1/batches?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { key: k });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      expect(res.body.has_more).toBe(res.body.next_cursor !== null);
      for (const b of res.body.data) expect(b).toMatchObject({ object: "batch", status: "completed", state: "completed" });
      seen.push(...res.body.data.map((b: any) => b.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(newestFirst);

    const viaAfter = await call(srv.base, "GET", `/v1/batches?limit=2&after=${newestFirst[1]}`, { key: k });
    expect(viaAfter.body.data.map((b: any) => b.id)).toEqual(newestFirst.slice(2, 4));

    const pending = await mustCreate(srv.base, k, { items: makeItems(1, { prefix: "list-x" }) });
    const cancelled = await call(srv.base, "POST", `/v1/batches/${pending.id}/cancel`, { key: k });
    expect(cancelled.status).toBe(200);
    await untilTerminal(srv.base, k, pending.id);
    const onlyCompleted = await call(srv.base, "GET", "/v1/batches?status=completed&limit=100", { key: k });
    expect(onlyCompleted.body.data.map((b: any) => b.id)).toEqual(newestFirst);
    const onlyCancelled = await call(srv.base, "GET", "/v1/batches?status=cancelled", { key: k });
    expect(onlyCancelled.body.data.map((b: any) => [b.id, b.state])).toEqual([[pending.id, "canceled"]]);
    expect((await call(srv.base, "GET", "/v1/batches?status=running", { key: k })).status).toBe(400);
    expect((await call(srv.base, "GET", "/v1/batches?limit=0", { key: k })).status).toBe(400);
    expect((await call(srv.base, "GET", "/v1/batches?limit=101", { key: k })).status).toBe(400);

    await expectLedgerBalanced(srv.database.db, other.org_id, "test");
    for (const id of [...ids, pending.id]) await expectBatchSettled(srv.database.db, id);
  });
});
