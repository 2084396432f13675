import { expect } from "vitest";
import { waitFor } from "./wait.js";

/**
 * Quickstart flow B (spec/quickstarts.md) as its JavaScript program runs it, with one key: quote the
 * manifest, create it without a quote_id under a fixed Idempotency-Key, poll the top-level `state`
 * until final, read the results and the optimization report. The program throws on any non-2xx
 * answer, printing the JSON body. Returns what it read, for the caller's own checks.
 */
export async function runFlowB(BASE_URL: string, key: string) {
  const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
  const manifest = {
    sla_tier: "standard",
    routing_mode: "sla_aware",
    privacy_tier: "standard",
    allowed_regions: ["global"],
    items: [
      {
        customer_item_id: "support_rollup_001",
        operation: "responses",
        model: "gpt-5.4-mini",
        model_options: ["gpt-5.4-mini", "gpt-5.4"],
        input: { input: [{ role: "user", content: "Summarize today's support queue." }] },
      },
    ],
    delivery: { webhook_url: "https://example.com/batchrouter/webhook" },
  };
  const must = async (res: Response) => {
    const body = await res.json();
    if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const quote = await must(await fetch(`${BASE_URL}/v1/batches/quote`, { method: "POST", headers, body: JSON.stringify(manifest) }));
  expect(quote.pricing_estimate?.total).toBeDefined();
  const created = await must(
    await fetch(`${BASE_URL}/v1/batches`, {
      method: "POST",
      headers: { ...headers, "Idempotency-Key": "support-digest-2026-11-22" },
      body: JSON.stringify(manifest),
    }),
  );
  const id: string = (created.batch ?? created).id;
  expect(id).toMatch(/^bat_/);
  // The program polls every 30 s while state isn't final; the test polls faster, with a deadline.
  const batch = await waitFor(
    async () => {
      const b = await must(await fetch(`${BASE_URL}/v1/batches/${id}`, { headers }));
      return ["completed", "failed", "canceled"].includes(b.state) ? b : undefined;
    },
    30_000,
    `batch ${id} to reach a final state`,
    100,
  );
  const results = await must(await fetch(`${BASE_URL}/v1/batches/${id}/results`, { headers }));
  const report = await must(await fetch(`${BASE_URL}/v1/batches/optimization-report?import_provider=openai`, { headers }));
  const route = await must(await fetch(`${BASE_URL}/v1/batches/${id}/route-receipt`, { headers }));
  return { id, batch, results, report, route };
}
