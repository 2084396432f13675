// Benchmark: a raw JSONL upload through the real HTTP server (POST /v1/batches/input-manifests):
// HTTP, parse and checks, tee into the artifact store, COPY into file_item_chunks, commit.
// Run through bench/run.ts (`npm run bench -- upload`). Targets: ≥ 100k lines/s, peak RSS ≤ 256 MB.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchPlatform } from "./harness.js";

export interface UploadBench {
  lines: number;
  bytes: number;
  seconds: number;
  /** CPU time of the server process (all threads) during the upload; PostgreSQL's and the client's are not in it. */
  cpu_s: number;
  lines_per_s: number;
  mb_per_s: number;
  /** Of the server process (API and worker); the client that generates the body runs in its own. */
  peak_rss_mb: number;
  start_rss_mb: number;
  /** process.memoryUsage() at the peak (MB), to tell V8's heap from buffers and native memory. */
  at_peak: { heap_total_mb: number; heap_used_mb: number; external_mb: number; array_buffers_mb: number };
}

/** One upload of `lines` items; throughput is wall time from the first byte sent to the 201. */
export async function benchManifestUpload(platform: BenchPlatform, key: string, lines = 1_000_000): Promise<UploadBench> {
  // The client starts (tsx, imports) before the clock does: it says when it is about to send.
  const client = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(new URL("./upload-client.ts", import.meta.url)), platform.base, key, String(lines)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  let sending: () => void;
  const started$ = new Promise<void>((resolve) => (sending = resolve));
  client.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (out.includes("\n")) sending();
  });
  const exited = new Promise<number>((resolve) => client.on("close", (code) => resolve(code ?? 1)));
  await Promise.race([started$, exited]);
  // A busy event loop fires the timer late, but the parse yields at every chunk of the body.
  const rss = peakSampler(10);
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const code = await exited;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (code !== 0) throw new Error(`the upload client failed (exit ${code})`);
    const res = JSON.parse(out.slice(out.indexOf("\n") + 1)) as { status: number; body: any };
    if (res.status !== 201 || res.body.item_count !== lines)
      throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
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

/**
 * Like bench/rss-sampler.ts, but keeps all of process.memoryUsage() at the peak: what the RSS is made
 * of (heap, ArrayBuffers, the rest native) is what points at a cause. Costs ~10 µs a sample.
 */
function peakSampler(intervalMs: number) {
  const start = process.memoryUsage();
  let peak = start;
  const sample = (): void => {
    const m = process.memoryUsage();
    if (m.rss > peak.rss) peak = m;
  };
  const timer = setInterval(sample, intervalMs);
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return {
    stop() {
      clearInterval(timer);
      sample();
      return {
        start_rss_mb: mb(start.rss),
        peak_rss_mb: mb(peak.rss),
        at_peak: {
          heap_total_mb: mb(peak.heapTotal),
          heap_used_mb: mb(peak.heapUsed),
          external_mb: mb(peak.external),
          array_buffers_mb: mb(peak.arrayBuffers),
        },
      };
    },
  };
}
