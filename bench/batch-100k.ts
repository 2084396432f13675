import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchPlatform } from "./harness.js";
import { rssSampler } from "./rss-sampler.js";

async function json(res: Response) {
  const body = (await res.json()) as any;
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

/**
 * A 100,000-item batch on zero-latency simulator lanes: upload, then from POST /v1/batches to
 * `completed` with its output artifact downloaded — the figure the target is about.
 */
export async function benchBatch100k(platform: BenchPlatform, key: string, items = 100_000) {
  const auth = { Authorization: `Bearer ${key}` };
  // Uploaded from a process of its own (the upload bench's client: short chat, Responses and
  // embeddings items over three chat models), so the peak RSS below is the platform's alone.
  const upload = await uploadFromChild(platform.base, key, items);
  // The process runs the API and the worker that does the work (and this client, which is small).
  const rss = rssSampler(50);
  const t0 = performance.now();
  const created = await json(
    await fetch(`${platform.base}/v1/batches`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json", "Idempotency-Key": `bench-${Date.now()}` },
      body: JSON.stringify({ input_file_id: upload.id, sla_tier: "flex" }),
    }),
  );
  const createdMs = performance.now() - t0;
  const id = created.batch.id as string;
  let state = created.batch.status as string;
  // Each poll is timed: a batch at work must not slow its own polls (issue 13: 2–4 s each, once).
  const polls: number[] = [];
  while (!["completed", "failed", "cancelled", "expired"].includes(state)) {
    await new Promise((r) => setTimeout(r, 100));
    const p0 = performance.now();
    state = (await json(await fetch(`${platform.base}/v1/batches/${id}`, { headers: auth }))).status;
    polls.push(performance.now() - p0);
  }
  const link = await json(await fetch(`${platform.base}/v1/batches/${id}/artifact-url?kind=output`, { headers: auth }));
  // Downloaded by a process of its own, as a customer would: the client's buffers for the whole
  // file would otherwise count in the platform's peak RSS (as the upload's do not).
  const bytes = await downloadFromChild(link.url);
  const totalMs = performance.now() - t0;
  const memory = rss.stop();
  // A results page deep in the batch (keyset pagination: as fast at the end as at the start).
  const deep = [];
  for (let i = 0; i < 5; i++) {
    const r0 = performance.now();
    await json(
      await fetch(`${platform.base}/v1/batches/${id}/results?limit=100&cursor=${Math.floor(items * 0.9) + i * 100}`, { headers: auth }),
    );
    deep.push(performance.now() - r0);
  }
  return {
    state,
    items,
    create_ms: Math.round(createdMs),
    total_s: +(totalMs / 1000).toFixed(1),
    artifact_mb: +(bytes / 1e6).toFixed(1),
    items_per_s: Math.round(items / (totalMs / 1000)),
    deep_page_ms: quantileMs(deep, 0.5),
    polls: polls.length,
    poll_p50_ms: quantileMs(polls, 0.5),
    poll_p99_ms: quantileMs(polls, 0.99),
    poll_max_ms: quantileMs(polls, 1),
    ...memory,
  };
}

/** The q-quantile of `times` (nearest rank), to a tenth of a ms. */
function quantileMs(times: number[], q: number): number {
  if (times.length === 0) return 0;
  const sorted = [...times].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 10) / 10;
}

async function uploadFromChild(base: string, key: string, lines: number): Promise<{ id: string }> {
  const client = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(new URL("./upload-client.ts", import.meta.url)), base, key, String(lines)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  client.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number>((resolve) => client.on("close", (c) => resolve(c ?? 1)));
  const res = JSON.parse(out.slice(out.indexOf("\n") + 1)) as { status: number; body: any };
  if (code !== 0 || res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body;
}

/** GETs `url` in a child Node process, reading the body as it streams; answers its length. */
async function downloadFromChild(url: string): Promise<number> {
  const script =
    "const r = await fetch(process.argv[1]); if (!r.ok) process.exit(2); let n = 0;" +
    " for await (const c of r.body) n += c.length; process.stdout.write(String(n));";
  const client = spawn(process.execPath, ["--input-type=module", "-e", script, url], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  client.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number>((resolve) => client.on("close", (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`download failed (exit ${code})`);
  return Number(out);
}
