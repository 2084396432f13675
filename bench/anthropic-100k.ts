import type { BenchPlatform } from "./harness.js";
import { rssSampler } from "./rss-sampler.js";

/** Anthropic's create body for `n` requests, generated as a stream of JSON text (never whole). */
async function* createBody(n: number): AsyncGenerator<string> {
  yield '{"requests":[';
  const chunk: string[] = [];
  let sep = "";
  for (let i = 0; i < n; i++) {
    chunk.push(
      JSON.stringify({
        custom_id: `req-${i}`,
        params: {
          model: "claude-haiku-4-5",
          max_tokens: 64,
          system: "You label support tickets.",
          messages: [{ role: "user", content: `Classify ticket ${i}: the export broke after release ${i % 9}.` }],
        },
      }),
    );
    if (chunk.length === 2000 || i === n - 1) {
      yield sep + chunk.splice(0).join(",");
      sep = ",";
    }
  }
  yield "]}";
}

function streamOf(gen: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await gen.next();
      if (done) controller.close();
      else controller.enqueue(enc.encode(value));
    },
  });
}

/**
 * A 100,000-request Anthropic create (about 30 MB, past the 10 MB JSON body limit) sent streamed to
 * /v1/anthropic/v1/messages/batches as the Anthropic SDK would, timed until the batch object comes
 * back, with this process's peak RSS meanwhile (the API runs in-process).
 */
export async function benchAnthropic100k(platform: BenchPlatform, key: string, requests = 100_000) {
  const rss = rssSampler(50);
  const t0 = performance.now();
  const res = await fetch(`${platform.base}/v1/anthropic/v1/messages/batches`, {
    method: "POST",
    headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "Content-Type": "application/json" },
    body: streamOf(createBody(requests)),
    duplex: "half",
  } as RequestInit);
  const body = (await res.json()) as { id?: string; request_counts?: Record<string, number> };
  const createMs = performance.now() - t0;
  const memory = rss.stop();
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  const counted = Object.values(body.request_counts ?? {}).reduce((a, b) => a + b, 0);
  if (counted !== requests) throw new Error(`created ${counted} of ${requests} requests`);
  return { requests, create_ms: Math.round(createMs), ...memory };
}
