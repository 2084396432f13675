import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { parseExposition, type Sample, sumOf } from "./helpers/prometheus.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// GET /metrics as Prometheus sees it: after real requests and a real batch through the worker.
let srv: TestServer;
let guarded: TestServer;
const TOKEN = "metrics-token-for-the-test-0123";

beforeAll(async () => {
  [srv, guarded] = await Promise.all([startTestServer({}, { worker: true }), startTestServer({ METRICS_TOKEN: TOKEN })]);
});
afterAll(async () => Promise.all([srv?.close(), guarded?.close()]));

async function scrape(base: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

describe("GET /metrics", () => {
  it("times requests by the route's pattern, never the raw URL", async () => {
    const agent = await registerAgent(srv.base);
    const missing = "bat_doesnotexist0000000000000";
    expect((await call(srv.base, "GET", `/v1/batches/${missing}`, { key: agent.api_key })).status).toBe(404);
    await call(srv.base, "GET", "/v1/no/such/path/42");

    const res = await fetch(`${srv.base}/metrics`);
    const text = await res.text();
    expect(text).not.toContain(missing);
    expect(text).not.toContain("/v1/no/such/path/42");
    const samples = parseExposition(text);
    const byId = { method: "GET", route: "/v1/batches/:id", status_class: "4xx" };
    expect(sumOf(samples, "batchrouter_http_request_duration_seconds_count", byId)).toBe(1);
    // A Prometheus histogram: typed so, cumulative buckets ending in +Inf at the count, and a sum.
    expect(text).toContain("# TYPE batchrouter_http_request_duration_seconds histogram");
    const buckets = samples.filter(
      (s) => s.name === "batchrouter_http_request_duration_seconds_bucket" && Object.entries(byId).every(([k, v]) => s.labels[k] === v),
    );
    const bounds = ["0.001", "0.0025", "0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"];
    expect(buckets.map((s) => s.labels.le)).toEqual(bounds);
    expect(buckets.map((s) => s.value)).toEqual([...buckets.map((s) => s.value)].sort((x, y) => x - y));
    expect(buckets.at(-1)!.value).toBe(1);
    expect(sumOf(samples, "batchrouter_http_request_duration_seconds_sum", byId)).toBeGreaterThan(0);
    expect(sumOf(samples, "batchrouter_http_request_duration_seconds_count", { route: "unmatched", status_class: "4xx" })).toBe(1);
    expect(
      sumOf(samples, "batchrouter_http_request_duration_seconds_count", { route: "/v1/auth/agent-register", status_class: "2xx" }),
    ).toBe(1);
    // Default process metrics ride along.
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(samples.some((s) => s.name === "nodejs_heap_size_used_bytes")).toBe(true);
  });

  it("counts a finished batch's items per lane, its jobs per queue, and the ledger as the entries sum", async () => {
    const agent = await registerAgent(srv.base);
    const before = await scrape(srv.base);
    // Items 1 and 4 hit a permanent simulated refusal: the batch ends with completed and failed items.
    const items = makeItems(6, { prefix: "metrics", text: (i) => (i === 1 || i === 4 ? "[simulate:content_policy]" : undefined) });
    const batch = await mustCreate(srv.base, agent.test_api_key, { items });
    const done = await untilTerminal(srv.base, agent.test_api_key, batch.id);
    expect(done.batch.counts).toMatchObject({ total: 6, completed: 4, failed: 2 });

    const after = await scrape(srv.base);
    const moved = (outcome: string) =>
      sumOf(after, "batchrouter_items_total", { outcome }) - sumOf(before, "batchrouter_items_total", { outcome });
    expect(moved("completed")).toBe(4);
    expect(moved("failed")).toBe(2);
    const [lane] = await srv.database.db("work_units").where({ batch_id: batch.id }).pluck("lane_id");
    expect(sumOf(after, "batchrouter_items_total", { lane: lane!, outcome: "completed" })).toBeGreaterThanOrEqual(4);

    for (const queue of ["batch.dispatch", "wu.submit", "wu.poll", "batch.finalize"]) {
      expect(sumOf(after, "batchrouter_job_run_seconds_count", { queue, outcome: "completed" }), queue).toBeGreaterThan(0);
      expect(sumOf(after, "batchrouter_job_wait_seconds_count", { queue }), queue).toBeGreaterThan(0);
    }
    // Every queue reports its depth, idle ones at 0.
    const depths = after.filter((s) => s.name === "batchrouter_queue_jobs");
    expect(new Set(depths.map((s) => s.labels.queue))).toContain("webhook.deliver");
    expect(new Set(depths.map((s) => s.labels.state))).toEqual(new Set(["queued", "deferred", "active"]));

    const sums = await srv.database
      .db("ledger_entries")
      .groupBy("kind", "environment")
      .select(
        "kind",
        "environment",
        srv.database.db.raw("sum(available_delta)::bigint AS a, sum(reserved_delta)::bigint AS r, count(*)::int AS n"),
      );
    expect(sums.some((r: { kind: string }) => r.kind === "settlement")).toBe(true);
    for (const r of sums as { kind: string; environment: string; a: number; r: number; n: number }[]) {
      const labels = { kind: r.kind, environment: r.environment };
      expect(sumOf(after, "batchrouter_ledger_available_micros", labels), `${r.kind}/${r.environment}`).toBe(r.a);
      expect(sumOf(after, "batchrouter_ledger_reserved_micros", labels), `${r.kind}/${r.environment}`).toBe(r.r);
      expect(sumOf(after, "batchrouter_ledger_entries", labels)).toBe(r.n);
    }
  });

  it("without METRICS_TOKEN answers loopback clients only, not requests a proxy forwarded", async () => {
    expect((await fetch(`${srv.base}/metrics`)).status).toBe(200);
    const proxied = await call(srv.base, "GET", "/metrics", { headers: { "X-Forwarded-For": "203.0.113.9" } });
    expect(proxied.status).toBe(403);
    expect(proxied.body.error).toMatchObject({ code: "forbidden", request_id: expect.any(String) });
  });

  it("with METRICS_TOKEN wants that bearer token: 401 in the envelope without it or with another", async () => {
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: "Bearer not-the-token" },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: TOKEN },
    ];
    for (const headers of wrong) {
      const res = await call(guarded.base, "GET", "/metrics", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(res.body.error).toMatchObject({
        code: "unauthorized",
        message: expect.stringContaining("METRICS_TOKEN"),
        request_id: expect.any(String),
      });
    }
    const ok = await scrape(guarded.base, { Authorization: `Bearer ${TOKEN}` });
    expect(ok.some((s) => s.name === "batchrouter_queue_jobs")).toBe(true);
  });

  it("is not part of the public API document", async () => {
    const doc = await call(srv.base, "GET", "/v1/openapi.json");
    expect(Object.keys(doc.body.paths)).not.toContain("/metrics");
  });
});
