// Benchmark: a raw JSONL upload through the real HTTP server (POST /v1/batches/input-manifests):
// HTTP, parse and checks, tee into the artifact store, COPY into file_items, commit.
// Run through bench/run.ts (`npx tsx bench/run.ts upload`). Targets: ≥ 100k lines/s, peak RSS ≤ 256 MB.
import http from "node:http";
import { Readable } from "node:stream";
import type { BenchPlatform } from "./harness.js";
import { manifestChunks } from "./manifest-parse.js";
import { rssSampler } from "./rss-sampler.js";

export interface UploadBench {
  lines: number;
  bytes: number;
  seconds: number;
  /** CPU time of this process (all threads) during the upload; PostgreSQL's share is not in it. */
  cpu_s: number;
  lines_per_s: number;
  mb_per_s: number;
  /** Of this process, which runs the server, the worker and the client that generates the body. */
  peak_rss_mb: number;
  start_rss_mb: number;
}

const USER = [
  "My card was charged twice for order #{n}, please refund one of the charges.",
  "The export button does nothing on Safari 17 since yesterday's update (ticket {n}).",
  "ACME GmbH — Rechnung {n}, Gesamtbetrag 1.249,00 EUR, fällig am 30.09. 😊",
  "Great product but delivery {n} took three weeks and the box was damaged.",
];
const SYSTEM = "You are a support triage assistant. Answer with one label: billing, bug, feature, other.";
const MODELS = ["gpt-4o-mini", "claude-haiku-4", "llama-3.3-70b-instruct"];
const MARK = "\u0000ID\u0000";

/** Short chat items, some Responses-style and embeddings, split around the id so generating costs little. */
function templates(): [Buffer, Buffer][] {
  return Array.from({ length: 1000 }, (_, i) => {
    const user = JSON.stringify(USER[i % USER.length]!.replace("{n}", String(i * 7919)));
    const head = `"customer_item_id":"${MARK}","model":"${MODELS[i % MODELS.length]}"`;
    const line =
      i % 20 === 0
        ? `{"customer_item_id":"${MARK}","operation":"embeddings","model":"text-embedding-3-small","input":{"input":${user}}}`
        : i % 5 === 0
          ? `{${head},"input":{"input":${user},"instructions":${JSON.stringify(SYSTEM)}},"max_output_tokens":128}`
          : `{${head},"input":{"messages":[{"role":"system","content":${JSON.stringify(SYSTEM)}},{"role":"user","content":${user}}]},"max_output_tokens":64}`;
    const [a, b] = line.split(MARK) as [string, string];
    return [Buffer.from(a), Buffer.from(`${b}\n`)];
  });
}

/** One upload of `lines` items; throughput is wall time from the first byte sent to the 201. */
export async function benchManifestUpload(platform: BenchPlatform, key: string, lines = 1_000_000): Promise<UploadBench> {
  // The event loop is busy parsing, so the timer fires late; every generated chunk samples too.
  const rss = rssSampler();
  const sample = rss.sample;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const res = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${platform.base}/v1/batches/input-manifests`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson", "x-batchrouter-item-count": String(lines) },
      }, (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: r.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) })).on("error", reject);
      });
      req.on("error", reject);
      Readable.from(manifestChunks(lines, templates(), sample), { objectMode: false }).pipe(req);
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    sample();
    if (res.status !== 201 || res.body.item_count !== lines) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    // Leave the bench database as it was: the next entry shouldn't pay for a million rows.
    await fetch(`${platform.base}/v1/files/${res.body.id}`, { method: "DELETE", headers: { Authorization: `Bearer ${key}` } });
    return {
      lines,
      bytes: res.body.bytes,
      seconds: Math.round(seconds * 100) / 100,
      cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      lines_per_s: Math.round(lines / seconds),
      mb_per_s: Math.round((res.body.bytes / 1e6 / seconds) * 10) / 10,
      ...rss.stop(),
    };
  } finally {
    rss.stop();
  }
}
