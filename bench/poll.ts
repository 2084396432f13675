import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import Koa from "koa";
import type { BenchOutcome } from "./entry.js";
import { withBenchPlatform, type BenchPlatform } from "./harness.js";

/** The part of autocannon's programmatic API this bench uses (the package ships no types). */
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Cannon;

const CONNECTIONS = 64;
const SECONDS = 10;

/**
 * The load runs in a worker thread: the servers measured share this process's event loop, and a
 * load generator on that same loop would steal the time it is measuring.
 */
function load(url: string, headers: Record<string, string>, duration: number) {
  return autocannon({ url, headers, connections: CONNECTIONS, duration, workers: 1 });
}

async function untilCompleted(platform: BenchPlatform, key: string, id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${platform.base}/v1/batches/${id}`, { headers: { Authorization: `Bearer ${key}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET batch: ${res.status} ${text.slice(0, 300)}`);
    const status = (JSON.parse(text) as { status: string }).status;
    if (status === "completed") return text;
    if (["failed", "cancelled", "expired"].includes(status)) throw new Error(`the bench batch ended ${status}`);
    if (Date.now() > deadline) throw new Error(`the bench batch is still ${status} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A small completed batch to poll: the JSON body its GET answers. */
async function completedBatch(platform: BenchPlatform, key: string): Promise<{ id: string; body: string }> {
  const items = Array.from({ length: 3 }, (_, i) => ({
    customer_item_id: `poll-${i}`,
    model: "gpt-4o-mini",
    input: { messages: [{ role: "user", content: `Classify ticket ${i}: the export broke after the release.` }] },
    max_output_tokens: 32,
  }));
  const res = await fetch(`${platform.base}/v1/batches`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", "Idempotency-Key": `bench-poll-${Date.now()}` },
    body: JSON.stringify({ items }),
  });
  const created = (await res.json()) as { batch?: { id: string } };
  if (res.status !== 202 || !created.batch) throw new Error(`create: ${res.status} ${JSON.stringify(created).slice(0, 300)}`);
  return { id: created.batch.id, body: await untilCompleted(platform, key, created.batch.id) };
}

/** The baseline: a bare Koa handler in this process serving the same JSON (serialised per request, as ours is). */
async function bareKoa(body: string) {
  const parsed: unknown = JSON.parse(body);
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = parsed;
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((r) => server.once("listening", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * `npm run bench -- poll`: GET /v1/batches/{id} of a small completed batch under 64 connections for
 * 10 s (one test key; the harness raises the rate limits), against a bare Koa handler serving the
 * same body in the same process and the same run. Targets from issue 13: ≥ 50 % of the bare req/s,
 * p99 ≤ 20 ms, no errors.
 */
export async function benchPoll(): Promise<BenchOutcome> {
  return withBenchPlatform(async (platform, key) => {
    const batch = await completedBatch(platform, key);
    const bare = await bareKoa(batch.body);
    try {
      const ours = { url: `${platform.base}/v1/batches/${batch.id}`, headers: { Authorization: `Bearer ${key}` } };
      // Warm-ups (JIT, connection pools) are not counted.
      await load(ours.url, ours.headers, 2);
      await load(bare.url, {}, 2);
      const api = await load(ours.url, ours.headers, SECONDS);
      const base = await load(bare.url, {}, SECONDS);
      const failures = api.errors + api.timeouts + api.non2xx;
      return {
        detail:
          `${CONNECTIONS} connections × ${SECONDS} s each; ${api.requests.total} polls of a 3-item completed batch ` +
          `(${batch.body.length} B body, p50 ${api.latency.p50} ms); bare Koa p99 ${base.latency.p99} ms`,
        figures: [
          { name: "GET /v1/batches/{id}", value: Math.round(api.requests.average), unit: "req/s" },
          { name: "bare Koa, same body", value: Math.round(base.requests.average), unit: "req/s" },
          {
            name: "ratio to bare Koa",
            value: +(api.requests.average / base.requests.average).toFixed(3),
            unit: "×",
            target: { op: ">=", value: 0.5 },
          },
          { name: "p99 latency", value: api.latency.p99, unit: "ms", target: { op: "<=", value: 20 } },
          { name: "errors and non-2xx", value: failures, unit: "responses", target: { op: "<=", value: 0 } },
        ],
      };
    } finally {
      await bare.close();
    }
  });
}
