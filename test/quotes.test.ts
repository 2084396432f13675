import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import llama3Tokenizer from "llama3-tokenizer-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";

let srv: TestServer;
// Live keys run on loopback fakes of OpenAI and Anthropic (test keys on the simulator).
let providers: LiveProviders;
let agent: Awaited<ReturnType<typeof registerAgent>>;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env);
  agent = await registerAgent(srv.base);
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

const FLOW_A = {
  routing_mode: "cheapest",
  items: [
    {
      customer_item_id: "item-1",
      operation: "responses",
      model: "gpt-4o-mini",
      input: { messages: [{ role: "user", content: "Summarize: the quarterly report shows revenue up 12% on strong renewals." }] },
    },
  ],
};
const FLOW_B = {
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
      input: { input: [{ role: "user", content: "Summarize the support queue for today." }] },
    },
  ],
};
const micros = (m: { amount: string }) => Math.round(Number(m.amount) * 1e6);
const quote = (body: unknown, key = agent.test_api_key, path = "/v1/quotes/model") => call(srv.base, "POST", path, { key, body });
const oneItem = (
  extra: Record<string, unknown> = {},
  input: Record<string, unknown> = { messages: [{ role: "user", content: "hello" }] },
) => ({
  items: [{ customer_item_id: "a", model: "gpt-4o-mini", input, ...extra }],
});

describe("model quotes", () => {
  it("answers flow A's quote with a locked, itemised, explained price", async () => {
    const res = await quote(FLOW_A);
    expect(res.status).toBe(200);
    const q = res.body;
    expect(q.quote_id).toMatch(/^qlock_/);
    expect(q.object).toBe("quote");
    const ttl = new Date(q.expires_at).getTime() - new Date(q.created_at).getTime();
    expect(ttl).toBe(10 * 60 * 1000);
    const p = q.pricing_estimate;
    expect(p.total).toMatchObject({ currency: "usd", amount: expect.stringMatching(/^\d+\.\d{6}$/) });
    expect(micros(p.batchrouter_fee)).toBe(Math.ceil((micros(p.provider_subtotal) * 590) / 10_000));
    expect(micros(p.total)).toBe(micros(p.provider_subtotal) + micros(p.batchrouter_fee) - micros(p.customer_discount));
    expect(p.customer_discount.amount).toBe("0.000000");
    // The cheapest lane for gpt-4o-mini is a 50 %-discounted batch lane; others say why they lost.
    const selected = q.quote_lanes.filter((l: { selected: boolean }) => l.selected);
    expect(selected).toHaveLength(1);
    expect(selected[0].lane_id).toMatch(/^(openai|azure-openai)\/gpt-4o-mini\/(us|eu)\/batch$/);
    for (const lane of q.quote_lanes.filter((l: { selected: boolean }) => !l.selected)) {
      expect(lane.rejection_reasons.length).toBeGreaterThan(0);
      expect(micros(lane.estimated_cost)).toBeGreaterThanOrEqual(micros(selected[0].estimated_cost));
    }
    expect(
      q.quote_lanes.some((l: { rejection_reasons: { code: string }[] }) => l.rejection_reasons.some((r) => r.code === "higher_price")),
    ).toBe(true);
    expect(q.work_units).toEqual([expect.objectContaining({ lane_id: selected[0].lane_id, item_count: 1 })]);
    expect(q.customer_explanation).toMatch(/1 item goes to .*gpt-4o-mini/);
    expect(q.route_decision_preview).toMatchObject({
      selected_provider: selected[0].provider,
      trust_score: expect.any(Number),
      fallback_order: expect.any(Array),
    });
  });

  it("counts input tokens with the model family's real tokenizer", async () => {
    const text = "Summarize: the quarterly report shows revenue up 12% on strong renewals.";
    const gpt = await quote(oneItem({}, { messages: [{ role: "user", content: text }] }));
    expect(gpt.body.estimated_tokens).toMatchObject({ input: countTokens(text) + 3 + 3, method: "exact" });
    const llama = await quote({
      items: [{ customer_item_id: "l", model: "llama-3.1-8b-instruct", input: { messages: [{ role: "user", content: text }] } }],
    });
    expect(llama.body.estimated_tokens.input).toBe(llama3Tokenizer.encode(text, { bos: false, eos: false }).length + 6);
    const capped = await quote(oneItem({ max_output_tokens: 77 }));
    expect(capped.body.estimated_tokens.output).toBe(77);
  });

  it("answers flow B's Responses-style manifest at /v1/batches/quote", async () => {
    const res = await quote(FLOW_B, agent.test_api_key, "/v1/batches/quote");
    expect(res.status).toBe(200);
    expect(res.body.routing_mode).toBe("sla_aware");
    expect(Number(res.body.pricing_estimate.total.amount)).toBeGreaterThan(0);
    expect(res.body.work_units[0].model).toMatch(/^gpt-5\.4/);
  });

  it("prices a volume without items, across several models", async () => {
    const res = await quote({ models: ["gpt-4o-mini", "claude-haiku-4"], task: "responses", estimated_items: 50_000 });
    expect(res.status).toBe(200);
    expect(res.body.kind).toBe("volume");
    expect(res.body.item_count).toBe(50_000);
    const models = new Set(res.body.quote_lanes.map((l: { model: string }) => l.model));
    expect(models).toEqual(new Set(["gpt-4o-mini", "claude-haiku-4"]));
    expect(res.body.work_units.reduce((n: number, u: { item_count: number }) => n + u.item_count, 0)).toBe(50_000);
    const sampled = await quote({
      model: "gpt-4o-mini",
      estimated_items: 1000,
      sample_items: [{ customer_item_id: "s", input: { messages: [{ role: "user", content: "x ".repeat(1000) }] }, max_output_tokens: 10 }],
    });
    expect(sampled.body.estimated_tokens.output).toBe(10_000);
    expect(sampled.body.estimated_tokens.input).toBeGreaterThan(1000 * 1000);
  });

  it("shows the funding preview against the caller's balance", async () => {
    const live = await quote(FLOW_A, agent.api_key);
    expect(live.body.environment).toBe("live");
    expect(live.body.funding_preview).toMatchObject({ available: { amount: "0.000000" }, can_fund: false });
    expect(live.body.funding_preview.shortfall).toEqual(live.body.pricing_estimate.total);
    const test = await quote(FLOW_A);
    expect(test.body.funding_preview).toMatchObject({
      available: { amount: "100.000000" },
      can_fund: true,
      shortfall: { amount: "0.000000" },
    });
  });

  it("reads a quote back with its status; another org or environment gets 404", async () => {
    const made = await quote(FLOW_A);
    const got = await call(srv.base, "GET", `/v1/quotes/${made.body.quote_id}`, { key: agent.test_api_key });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ quote_id: made.body.quote_id, status: "open", pricing_estimate: made.body.pricing_estimate });
    await srv.database
      .db("quotes")
      .where({ id: made.body.quote_id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect((await call(srv.base, "GET", `/v1/quotes/${made.body.quote_id}`, { key: agent.test_api_key })).body.status).toBe("expired");
    const other = await registerAgent(srv.base);
    expect((await call(srv.base, "GET", `/v1/quotes/${made.body.quote_id}`, { key: other.test_api_key })).status).toBe(404);
    expect((await call(srv.base, "GET", `/v1/quotes/${made.body.quote_id}`, { key: agent.api_key })).status).toBe(404);
  });
});

describe("constraints", () => {
  const lanesOf = (q: { work_units: { lane_id: string; mode: string; region: string; provider: string }[] }) => q.work_units;

  it("sends priority work to real-time lanes only", async () => {
    const res = await quote({ ...oneItem(), sla_tier: "priority" });
    expect(lanesOf(res.body).every((u) => u.mode === "realtime")).toBe(true);
    const batchLane = res.body.quote_lanes.find((l: { mode: string }) => l.mode === "batch");
    expect(batchLane.rejection_reasons.map((r: { code: string }) => r.code)).toContain("sla_unmet");
  });

  it("keeps zdr work on zdr lanes and eu work in the eu", async () => {
    const zdr = await quote({ ...oneItem(), privacy_tier: "zdr" });
    expect(zdr.status).toBe(200);
    expect(lanesOf(zdr.body).every((u) => u.provider === "azure-openai" && u.region === "eu")).toBe(true);
    const eu = await quote({ ...oneItem(), allowed_regions: ["eu"] });
    expect(lanesOf(eu.body).every((u) => u.region === "eu")).toBe(true);
    const us = eu.body.quote_lanes.find((l: { region: string }) => l.region === "us");
    expect(us.rejection_reasons.map((r: { code: string }) => r.code)).toContain("region_not_allowed");
  });

  it("honours public_only and provider preferences", async () => {
    const cheapest = await quote({
      items: [{ customer_item_id: "x", model: "llama-3.1-8b-instruct", input: { messages: [{ role: "user", content: "hi" }] } }],
    });
    expect(lanesOf(cheapest.body)[0]!.provider).toBe("autonomousc");
    const pub = await quote({
      items: cheapest.body
        ? [{ customer_item_id: "x", model: "llama-3.1-8b-instruct", input: { messages: [{ role: "user", content: "hi" }] } }]
        : [],
      routing_mode: "public_only",
    });
    expect(lanesOf(pub.body)[0]!.provider).not.toBe("autonomousc");
    expect(
      pub.body.quote_lanes
        .find((l: { provider: string }) => l.provider === "autonomousc")
        .rejection_reasons.map((r: { code: string }) => r.code),
    ).toContain("not_public");
    const ignored = await quote({
      items: [{ customer_item_id: "x", model: "llama-3.1-8b-instruct", input: { messages: [{ role: "user", content: "hi" }] } }],
      provider_preferences: { ignore: ["autonomousc", "deepinfra"] },
    });
    expect(lanesOf(ignored.body).map((u) => u.provider)).not.toContain("deepinfra");
  });

  it("routes tool-using items only to lanes with tool support", async () => {
    const res = await quote({
      items: [
        {
          customer_item_id: "t",
          model: "gemma-4-e4b-it",
          model_options: ["llama-3.1-8b-instruct"],
          tools: [{ type: "function", function: { name: "lookup" } }],
          input: { messages: [{ role: "user", content: "hi" }] },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(lanesOf(res.body)[0]!.lane_id).toMatch(/llama-3\.1-8b-instruct/);
    const gemma = res.body.quote_lanes.find((l: { model: string }) => l.model === "gemma-4-e4b-it");
    expect(gemma.rejection_reasons.map((r: { code: string }) => r.code)).toContain("tool_support");
  });

  it("answers 422 no_eligible_lane naming the items and reasons", async () => {
    const long = "word ".repeat(40_000);
    const res = await quote({
      items: [{ customer_item_id: "too-long", model: "gemma-4-e4b-it", input: { messages: [{ role: "user", content: long }] } }],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("no_eligible_lane");
    expect(res.body.error.details.items[0].customer_item_id).toBe("too-long");
    expect(res.body.error.details.items[0].reasons.map((r: { code: string }) => r.code)).toContain("context_window_exceeded");
  });

  it("refuses a quote above max_price, given as a string or Money", async () => {
    const cheap = await quote(FLOW_A);
    const total = cheap.body.pricing_estimate.total.amount;
    expect((await quote({ ...FLOW_A, max_price: total })).status).toBe(200);
    expect((await quote({ ...FLOW_A, max_price: { amount: total, currency: "usd" } })).status).toBe(200);
    const over = await quote({ ...FLOW_A, max_price: "0.000001" });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe("no_eligible_lane");
  });
});

describe("workflow quotes", () => {
  it("prices classify-support-tickets@v3 by volume at the workflow fee", async () => {
    const res = await quote(
      { workflow: "classify-support-tickets@v3", estimated_items: 12_000 },
      agent.test_api_key,
      "/v1/quotes/workflow",
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: "workflow", workflow: "classify-support-tickets@v3", item_count: 12_000, sla_tier: "flex" });
    const p = res.body.pricing_estimate;
    expect(p.fee_rate).toBe("0.1180");
    expect(micros(p.batchrouter_fee)).toBe(Math.ceil((micros(p.provider_subtotal) * 1180) / 10_000));
  });

  it("fills the preset template from customer inputs, checking them against its schema", async () => {
    const ok = await quote(
      { workflow: "classify-support-tickets@v3", inputs: [{ ticket_id: "T-1", subject: "Refund", text: "I was charged twice" }] },
      agent.test_api_key,
      "/v1/quotes/workflow",
    );
    expect(ok.status).toBe(200);
    expect(ok.body.estimated_tokens.output).toBe(64);
    const bad = await quote(
      { workflow: "classify-support-tickets@v3", inputs: [{ subject: "no id" }] },
      agent.test_api_key,
      "/v1/quotes/workflow",
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors[0].path).toMatch(/^\/inputs\/0/);
    expect((await quote({ workflow: "nope@v1", estimated_items: 5 }, agent.test_api_key, "/v1/quotes/workflow")).status).toBe(404);
  });
});

describe("bad quote input: a clear 4xx and nothing stored", () => {
  it("rejects each malformed request", async () => {
    const before = await srv.database.db("quotes").count("* as n");
    const cases: [unknown, number, string][] = [
      [
        { items: [{ customer_item_id: "a", model: "gpt-9-ultra", input: { messages: [{ role: "user", content: "x" }] } }] },
        400,
        "/items/0/model",
      ],
      [
        {
          items: [
            { customer_item_id: "a", model: "gpt-4o-mini", model_options: ["nope"], input: { messages: [{ role: "user", content: "x" }] } },
          ],
        },
        400,
        "/items/0/model_options",
      ],
      [{ items: [...oneItem().items, ...oneItem().items] }, 400, "/items/1/customer_item_id"],
      [{ items: [] }, 400, "/items"],
      [{ items: "lots" }, 400, "/items"],
      [{ items: [{ customer_item_id: 7, model: "gpt-4o-mini", input: {} }] }, 400, "/items/0/customer_item_id"],
      [{ items: [{ customer_item_id: "a", model: "gpt-4o-mini", input: {} }] }, 400, "/items/0/input"],
      [
        { items: [{ customer_item_id: "a", model: "text-embedding-3-small", operation: "embeddings", input: { messages: [] } }] },
        400,
        "/items/0/input/input",
      ],
      [{ models: ["gpt-4o-mini"], estimated_items: 2_000_000_000 }, 400, "/estimated_items"],
      [{ models: ["gpt-4o-mini"], estimated_items: -3 }, 400, "/estimated_items"],
      [{ estimated_items: 10 }, 400, "/models"],
      [{ ...oneItem(), estimated_items: 10, models: ["gpt-4o-mini"] }, 400, "/items"],
      [{}, 400, "/items"],
      [{ ...oneItem(), routing_mode: "fastest" }, 400, "/routing_mode"],
      [{ ...oneItem(), max_price: "-1" }, 400, "/max_price"],
      [{ ...oneItem(), allowed_regions: ["mars"] }, 400, "/allowed_regions/0"],
      [{ ...oneItem(), surprise: 1 }, 400, "/"],
    ];
    for (const [body, status, path] of cases) {
      const res = await quote(body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.body.error.code).toBe("invalid_request");
      expect(
        res.body.error.details.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body).slice(0, 120),
      ).toContain(path);
    }
    expect((await quote({ input_file_id: "file_unknown" })).status).toBe(404);
    expect(await srv.database.db("quotes").count("* as n")).toEqual(before);
  });

  it("needs a key with the quote scope", async () => {
    expect((await call(srv.base, "POST", "/v1/quotes/model", { body: FLOW_A })).status).toBe(401);
    const reader = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.test_api_key, body: { scopes: ["read"] } });
    const res = await quote(FLOW_A, reader.body.api_key);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("insufficient_scope");
  });
});
