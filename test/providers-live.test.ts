import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiFake, startOpenAiFake } from "./fakes/openai-fake.js";
import { allResults, expectBatchSettled, expectLedgerBalanced, makeItems, micros, mustCreate, untilTerminal } from "./helpers/batches.js";
import { fundedLiveAgent } from "./helpers/live.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { call, startTestServer, type TestServer } from "./helpers/server.js";

// Issue 11: live keys run only on configured providers, through the real adapters and protocols
// (loopback fakes here), and a custom OpenAI-compatible endpoint's models become real-time lanes.

let providers: LiveProviders;
let vllm: OpenAiFake;
let srv: TestServer;
const CUSTOM = "local-vllm";

beforeAll(async () => {
  providers = await liveProviders();
  // A self-hosted OpenAI-compatible server (vLLM, Ollama…) that takes no key.
  vllm = await startOpenAiFake({ apiKey: "" });
  const custom = [
    {
      slug: CUSTOM,
      base_url: `${vllm.baseUrl}/v1`,
      models: [
        {
          model: "llama-3.1-8b-instruct",
          served_as: "meta-llama/Llama-3.1-8B-Instruct",
          input_per_mtok: "0.01",
          output_per_mtok: "0.02",
          context_window: 8192,
        },
        { model: "qwen2.5-7b-instruct", input_per_mtok: "0.01", output_per_mtok: "0.01", context_window: 32768 },
      ],
      region: "eu",
      max_concurrency: 2,
    },
  ];
  srv = await startTestServer({ ...providers.env, BATCHROUTER_CUSTOM_ENDPOINTS: JSON.stringify(custom) }, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
  await vllm?.close();
});

const fundedAgent = () => fundedLiveAgent(srv);

describe("live keys run on configured providers only", () => {
  it("reports each provider live or simulated, and lists the custom endpoint as a provider", async () => {
    const caps = (await call(srv.base, "GET", "/v1/capabilities")).body;
    expect(caps.providers).toMatchObject({ openai: "live", anthropic: "live", [CUSTOM]: "live", groq: "simulated", google: "simulated" });
    const dir = await call(srv.base, "GET", `/v1/providers/${CUSTOM}`);
    expect(dir.status).toBe(200);
    expect(JSON.stringify(dir.body)).toContain("llama-3.1-8b-instruct");
  });

  it("rejects lanes of unconfigured providers as provider_not_configured, and answers 422 when nothing is left", async () => {
    const agent = await fundedAgent();
    const quote = await call(srv.base, "POST", "/v1/quotes/model", {
      key: agent.api_key,
      body: { items: makeItems(2, { model: "gpt-4o-mini" }) },
    });
    expect(quote.status).toBe(200);
    const openrouter = quote.body.quote_lanes.find((l: { provider: string }) => l.provider === "openrouter");
    expect(openrouter.selected).toBe(false);
    expect(openrouter.rejection_reasons.map((r: { code: string }) => r.code)).toContain("provider_not_configured");
    expect(quote.body.work_units.every((u: { provider: string }) => u.provider === "openai")).toBe(true);

    // gemini-2.5-flash is only Google's, which isn't configured: nothing can run it live.
    const before = await srv.database.db("ledger_entries").where({ org_id: agent.org_id }).count("* as n");
    const none = await call(srv.base, "POST", "/v1/batches", {
      key: agent.api_key,
      body: { items: makeItems(1, { model: "gemini-2.5-flash" }) },
      headers: { "Idempotency-Key": "live-none-0001" },
    });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe("no_eligible_lane");
    expect(JSON.stringify(none.body.error.details)).toContain("provider_not_configured");
    expect(await srv.database.db("ledger_entries").where({ org_id: agent.org_id }).count("* as n")).toEqual(before);

    // The test key of the same org quotes it on the simulator.
    const test = await call(srv.base, "POST", "/v1/quotes/model", {
      key: agent.test_api_key,
      body: { items: makeItems(1, { model: "gemini-2.5-flash" }) },
    });
    expect(test.status).toBe(200);
  });

  it("runs a live batch on OpenAI and Anthropic for real, joined to the right items and billed from the providers' usage", async () => {
    const agent = await fundedAgent();
    const items = [...makeItems(3, { prefix: "oa", model: "gpt-4o-mini" }), ...makeItems(2, { prefix: "an", model: "claude-haiku-4" })];
    const batch = await mustCreate(srv.base, agent.api_key, { items });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id);
    expect(done.status).toBe("completed");
    const results = await allResults(srv.base, agent.api_key, batch.id);
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r.status).toBe("completed");
      // The fakes echo the prompt: each output names its own ticket.
      expect(r.output.text).toContain(`#${r.customer_item_id.split("-")[1]}`);
      expect(r.usage.input_tokens).toBeGreaterThan(0);
    }
    const receipt = (await call(srv.base, "GET", `/v1/batches/${batch.id}/route-receipt`, { key: agent.api_key })).body;
    expect(receipt.work_units.map((u: { execution: string }) => u.execution)).toEqual(receipt.work_units.map(() => "live"));
    expect(receipt.execution).toBe("live");
    // Nothing ran on the simulator: each provider saw its items.
    expect(providers.openai.requests.some((r) => r.path === "/v1/batches" && r.method === "POST")).toBe(true);
    expect(providers.anthropic.requests.some((r) => r.path === "/v1/messages/batches" && r.method === "POST")).toBe(true);
    // The receipt shows what the batch was priced on beside what the providers reported.
    const billing = (await call(srv.base, "GET", `/v1/batches/${batch.id}/billing-receipt`, { key: agent.api_key })).body;
    expect(billing.estimated_tokens.input_tokens).toBeGreaterThan(0);
    expect(billing.reported_tokens).toEqual({
      input_tokens: results.reduce((n, r) => n + r.usage.input_tokens, 0),
      output_tokens: results.reduce((n, r) => n + r.usage.output_tokens, 0),
    });
    const money = await expectBatchSettled(srv.database.db, batch.id);
    expect(money.settled).toBeGreaterThan(0);
    await expectLedgerBalanced(srv.database.db, agent.org_id, "live");
  });

  it("runs a custom endpoint's model as a real-time lane at the operator's price", async () => {
    const agent = await fundedAgent();
    const items = makeItems(3, { prefix: "q", model: "qwen2.5-7b-instruct" });
    const quote = (await call(srv.base, "POST", "/v1/quotes/model", { key: agent.api_key, body: { items } })).body;
    expect(quote.work_units).toEqual([expect.objectContaining({ provider: CUSTOM, model: "qwen2.5-7b-instruct" })]);
    const batch = await mustCreate(srv.base, agent.api_key, { items, quote_id: quote.quote_id });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id);
    expect(done.status).toBe("completed");
    const results = await allResults(srv.base, agent.api_key, batch.id);
    expect(results.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
    expect(vllm.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(3);
    expect(micros(done.batch.settled_total)).toBeLessThanOrEqual(micros(quote.pricing_estimate.total));
  });
});
