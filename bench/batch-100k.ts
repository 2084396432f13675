import type { BenchPlatform } from "./harness.js";
import { rssSampler } from "./rss-sampler.js";

/** A realistic manifest as JSONL lines, generated as a stream. */
export async function* manifestLines(n: number) {
  const chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    chunk.push(
      JSON.stringify({
        customer_item_id: `doc-${i}`,
        model: "gpt-4o-mini",
        input: { messages: [{ role: "user", content: `Classify ticket ${i}: the export broke after release ${i % 9}.` }] },
        max_output_tokens: 64,
      }),
    );
    if (chunk.length === 5000) yield `${chunk.splice(0).join("\n")}\n`;
  }
  if (chunk.length) yield `${chunk.join("\n")}\n`;
}

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
  const upload = await json(
    await fetch(`${platform.base}/v1/batches/input-manifests`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/x-ndjson" },
      body: ReadableStreamFrom(manifestLines(items)),
      duplex: "half",
    } as RequestInit),
  );
  // Not a target, but worth watching: the process runs the API and the worker that does the work.
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
  while (!["completed", "failed", "cancelled", "expired"].includes(state)) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await json(await fetch(`${platform.base}/v1/batches/${id}`, { headers: auth }))).status;
  }
  const link = await json(await fetch(`${platform.base}/v1/batches/${id}/artifact-url?kind=output`, { headers: auth }));
  const file = await fetch(link.url);
  let bytes = 0;
  for await (const c of file.body as unknown as AsyncIterable<Uint8Array>) bytes += c.length;
  const totalMs = performance.now() - t0;
  const memory = rss.stop();
  return {
    state,
    items,
    create_ms: Math.round(createdMs),
    total_s: +(totalMs / 1000).toFixed(1),
    artifact_mb: +(bytes / 1e6).toFixed(1),
    ...memory,
  };
}

function ReadableStreamFrom(gen: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await gen.next();
      if (done) controller.close();
      else controller.enqueue(enc.encode(value));
    },
  });
}
