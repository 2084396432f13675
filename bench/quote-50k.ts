import { post, type BenchPlatform } from "./harness.js";

const TOPICS = ["billing", "login", "export", "latency", "refund", "api limits", "invoice", "webhooks"];

/** 50,000 inline items of realistic short prompts, across two models. */
export function makeItems(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    customer_item_id: `t${i}`,
    model: i % 5 === 0 ? "claude-haiku-4" : "gpt-4o-mini",
    model_options: i % 7 === 0 ? ["gpt-4.1-mini"] : undefined,
    input: {
      messages: [{ role: "user", content: `Summarize ticket ${i}: ${TOPICS[i % TOPICS.length]} broke after release ${i % 12}.${i % 7}.` }],
    },
    max_output_tokens: 200,
  }));
}

/** One quote of 50,000 inline items through the real HTTP stack: server time per quote. */
export async function benchQuote50k(platform: BenchPlatform, key: string, runs = 5) {
  const body = JSON.stringify({ routing_mode: "cheapest", items: makeItems(50_000) });
  const times: number[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const t0 = performance.now();
    const res = await post(platform.base, "/v1/quotes/model", key, body);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`quote failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    if (r > 0) times.push(ms); // the first run warms the tokenizers and the catalog cache
  }
  times.sort((a, b) => a - b);
  return {
    body_mb: +(body.length / 1e6).toFixed(1),
    median_ms: Math.round(times[Math.floor(times.length / 2)]!),
    best_ms: Math.round(times[0]!),
  };
}
