import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkItemInput, itemSchema } from "../server/manifest/item-schema.js";
import { formatRate, MARGIN_FLOOR_BPS, STANDARD_FEE_BPS, WORKFLOW_FEE_BPS } from "../server/catalog/fees.js";
import { call, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

// Every call here is deliberately without a key: the catalog is public.
const get = (path: string) => call(srv.base, "GET", path);
const slugs = (body: { data: { slug: string }[] }) => body.data.map((m) => m.slug);
type Offering = { lane_id: string; provider: string; region: string; mode: string; [k: string]: any };
const offerings = (body: { data: { provider_offerings: Offering[] }[] }) => body.data.flatMap((m) => m.provider_offerings);

function expectInvalidQuery(res: Awaited<ReturnType<typeof get>>, path: string) {
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: "invalid_request", details: { location: "query" } });
  expect(res.body.error.details.errors[0].path).toBe(path);
  expect(res.body.error.request_id).toBe(res.headers.get("x-request-id"));
}

describe("public catalog endpoints", () => {
  it("answer without an API key", async () => {
    for (const path of [
      "/v1/catalog/models",
      "/v1/catalog/models/gpt-4o-mini",
      "/v1/catalog/workflow-products",
      "/v1/catalog/workflow-products/classify-support-tickets@v3",
      "/v1/providers",
      "/v1/providers/openai",
      "/v1/pricing",
      "/v1/route-policies",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(typeof res.body.object, path).toBe("string");
    }
  });
});

describe("GET /v1/catalog/models", () => {
  it("lists the quickstart models with their lanes, discounted and list prices", async () => {
    const res = await get("/v1/catalog/models");
    expect(res.body).toMatchObject({ object: "list", has_more: false, pricing_updated_at: "2026-11-22T00:00:00.000Z" });
    expect(slugs(res.body)).toEqual(expect.arrayContaining(["gpt-4o-mini", "gpt-5.4-mini", "gpt-5.4"]));
    const providers = await get("/v1/providers");
    expect(res.body.provider_count).toBe(providers.body.data.length);

    const mini = res.body.data.find((m: { slug: string }) => m.slug === "gpt-4o-mini");
    expect(mini).toMatchObject({
      object: "model",
      display_name: "GPT-4o mini",
      provider: "openai",
      operations: ["responses", "vision"],
      context_window: 128000,
      max_output_tokens: 16384,
      max_input_tokens: 128000 - 16384,
      tool_support: true,
    });
    const lane = (id: string) => mini.provider_offerings.find((o: Offering) => o.lane_id === id);
    expect(lane("openai/gpt-4o-mini/us/batch")).toEqual({
      lane_id: "openai/gpt-4o-mini/us/batch",
      provider: "openai",
      region: "us",
      mode: "batch",
      input_per_mtok: { amount: "0.075000", currency: "usd" },
      output_per_mtok: { amount: "0.300000", currency: "usd" },
      list_input_per_mtok: { amount: "0.150000", currency: "usd" },
      list_output_per_mtok: { amount: "0.600000", currency: "usd" },
      batch_discount: "0.50",
      privacy: { zdr: false, data_collection: "deny", no_training: true },
      tool_support: true,
      hosted_tools: ["web_search", "file_search", "python_execution", "calculator", "time", "retrieval"],
      public: true,
      rescue: false,
      sla_tiers: ["flex", "standard"],
      capacity: { items_per_hour: 60000 },
      observed: { success_rate: 0.992, p50_turnaround_s: 5400, samples: 0 },
      execution: "simulated",
    });
    // A real-time lane pays list price and is the only kind that can meet the priority tier.
    expect(lane("openai/gpt-4o-mini/us/realtime")).toMatchObject({
      input_per_mtok: { amount: "0.150000" },
      batch_discount: "0.00",
      sla_tiers: ["flex", "standard", "priority"],
    });
    expect(lane("azure-openai/gpt-4o-mini/eu/batch").privacy.zdr).toBe(true);
    expect(lane("openrouter/gpt-4o-mini/global/realtime")).toMatchObject({
      rescue: true,
      hosted_tools: ["web_search", "calculator", "time"],
    });
  });

  it("lists an open-weight model under a public host, never the marketplace supplier", async () => {
    const res = await get("/v1/catalog/models/gemma-4-e4b-it");
    expect(res.body.provider).toBe("deepinfra");
    expect(res.body.provider_offerings.some((o: Offering) => o.provider === "autonomousc" && o.public === false)).toBe(true);
  });

  it("narrows by operation", async () => {
    const res = await get("/v1/catalog/models?operation=embeddings");
    expect(slugs(res.body).sort()).toEqual(["text-embedding-3-large", "text-embedding-3-small"]);
    for (const m of res.body.data) {
      expect(m).toMatchObject({ operations: ["embeddings"], max_output_tokens: 0, max_input_tokens: m.context_window });
      expect(typeof m.embedding_dimensions).toBe("number");
    }
    const vision = await get("/v1/catalog/models?operation=vision");
    expect(vision.body.data.length).toBeGreaterThan(0);
    expect(vision.body.data.every((m: { operations: string[] }) => m.operations.includes("vision"))).toBe(true);
    expect(slugs(vision.body)).not.toContain("llama-3.1-8b-instruct");
  });

  it("narrows by hosted tool, judged on the lanes left after the other filters", async () => {
    const res = await get("/v1/catalog/models?hosted_tool=web_search");
    expect(slugs(res.body)).toContain("gpt-4o-mini");
    expect(slugs(res.body)).not.toContain("llama-3.3-70b-instruct");
    for (const m of res.body.data) {
      expect(m.hosted_tools).toContain("web_search");
      expect(m.provider_offerings.some((o: Offering) => o.hosted_tools.includes("web_search"))).toBe(true);
    }
    // openrouter serves gpt-4o-mini but without python execution.
    const none = await get("/v1/catalog/models?provider=openrouter&hosted_tool=python_execution");
    expect(none.body.data).toEqual([]);
    expect(none.body.provider_count).toBe(0);
    const some = await get("/v1/catalog/models?provider=openrouter&hosted_tool=web_search");
    expect(slugs(some.body)).toEqual(["gpt-4o-mini"]);
  });

  it("narrows by region, models and offerings alike", async () => {
    const all = await get("/v1/catalog/models");
    const withEu = all.body.data
      .filter((m: { provider_offerings: Offering[] }) => m.provider_offerings.some((o) => o.region === "eu"))
      .map((m: { slug: string }) => m.slug);
    const eu = await get("/v1/catalog/models?region=eu");
    expect(eu.status).toBe(200);
    expect(slugs(eu.body)).toEqual(withEu);
    expect(offerings(eu.body).length).toBeGreaterThan(0);
    expect(offerings(eu.body).every((o) => o.region === "eu")).toBe(true); // a global lane is not an eu lane
    for (const m of all.body.data) {
      const onlyUs = m.provider_offerings.every((o: Offering) => o.region === "us");
      if (onlyUs) expect(slugs(eu.body)).not.toContain(m.slug);
    }
    // `global` is no narrowing at all, as in a manifest's allowed_regions.
    const global = await get("/v1/catalog/models?region=global");
    expect(offerings(global.body).length).toBe(offerings(all.body).length);
  });

  it("narrows by provider, offerings too", async () => {
    const res = await get("/v1/catalog/models?provider=groq");
    expect(slugs(res.body)).toEqual(["llama-3.1-8b-instruct", "llama-3.3-70b-instruct"]);
    expect(offerings(res.body).every((o) => o.provider === "groq")).toBe(true);
    expect(res.body.provider_count).toBe(1);
    const both = await get("/v1/catalog/models?provider=azure-openai&region=eu&operation=embeddings");
    expect(slugs(both.body)).toEqual(["text-embedding-3-small", "text-embedding-3-large"]);
    expect(offerings(both.body).every((o) => o.provider === "azure-openai" && o.region === "eu")).toBe(true);
  });

  it("rejects unknown filter values with the error envelope, and reads an empty value as no filter", async () => {
    expectInvalidQuery(await get("/v1/catalog/models?operation=foo"), "/operation");
    expectInvalidQuery(await get("/v1/catalog/models?region=mars"), "/region");
    expectInvalidQuery(await get("/v1/catalog/models?hosted_tool=teleport"), "/hosted_tool");
    expectInvalidQuery(await get("/v1/catalog/models?provider=nope"), "/provider");
    expectInvalidQuery(await get("/v1/catalog/models?operation=responses&operation=vision"), "/operation");
    const empty = await get("/v1/catalog/models?operation=&provider=&hosted_tool=&region=");
    expect(empty.status).toBe(200);
    expect(empty.body.data.length).toBe((await get("/v1/catalog/models")).body.data.length);
  });
});

describe("GET /v1/catalog/models/{slug}", () => {
  it("adds an example manifest that is a valid quote body for the model's operation", async () => {
    const chat = await get("/v1/catalog/models/gpt-5.4");
    expect(chat.status).toBe(200);
    expect(chat.body).toMatchObject({ object: "model", slug: "gpt-5.4", max_input_tokens: 400000 - 128000 });
    const embed = await get("/v1/catalog/models/text-embedding-3-small");
    for (const [body, operation] of [
      [chat.body, "responses"],
      [embed.body, "embeddings"],
    ] as const) {
      const manifest = body.example_manifest;
      expect(manifest.items).toHaveLength(1);
      const item = itemSchema.parse(manifest.items[0]);
      expect(item).toMatchObject({ operation, model: body.slug });
      expect(checkItemInput(item, operation)).toEqual([]);
    }
    expect(chat.body.example_manifest.items[0].input.messages[0]).toMatchObject({ role: "user" });
    expect(typeof embed.body.example_manifest.items[0].input.input).toBe("string");
    expect(embed.body.example_manifest.items[0].input.messages).toBeUndefined();
  });

  it("answers 404 not_found for an unknown slug", async () => {
    const res = await get("/v1/catalog/models/gpt-9");
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "not_found", message: "No such model." });
  });
});

describe("workflow products", () => {
  it("lists the packaged jobs with their contracts", async () => {
    const res = await get("/v1/catalog/workflow-products");
    expect(res.body.object).toBe("list");
    expect(slugs(res.body)).toEqual(expect.arrayContaining(["classify-support-tickets@v3", "embed-documents@v1", "agent-main-thread@v1"]));
    const pricing = await get("/v1/pricing");
    for (const w of res.body.data) {
      expect(w).toMatchObject({ object: "workflow_product", fee_rate: pricing.body.workflow_fee_rate });
      expect(Object.keys(w.artifact_contract).sort()).toEqual(["exception_schema", "result_schema"]);
      expect(w.preset_manifest.operation).toBe(w.operation);
    }
  });

  it("resolves name@vN, URL-encoded or not, and a bare name to the newest version", async () => {
    for (const path of ["classify-support-tickets@v3", "classify-support-tickets%40v3"]) {
      const res = await get(`/v1/catalog/workflow-products/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.body).toMatchObject({
        slug: "classify-support-tickets@v3",
        name: "classify-support-tickets",
        version: "v3",
        routing_posture: "cost-first",
      });
    }
    const bare = await get("/v1/catalog/workflow-products/agent-main-thread");
    expect(bare.body).toMatchObject({ slug: "agent-main-thread@v1", operation: "responses", routing_posture: "interactive" });
  });

  it("answers 404 for an unknown product or version", async () => {
    for (const path of ["no-such-product", "classify-support-tickets@v9"]) {
      const res = await get(`/v1/catalog/workflow-products/${path}`);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
  });
});

describe("provider directory", () => {
  it("describes each provider: protocol, discount, privacy, lanes, reliability, execution", async () => {
    const res = await get("/v1/providers");
    const by = Object.fromEntries(res.body.data.map((p: { slug: string }) => [p.slug, p]));
    expect(by.openai).toMatchObject({
      object: "provider",
      display_name: "OpenAI",
      regions: ["us", "eu"],
      batch_protocol: "openai-batch",
      batch_discount: "0.50",
      public: true,
      rescue: false,
      execution: "simulated",
      privacy: { posture: "no_training", no_training: true, data_collection: "deny", zdr_lanes: "none" },
      capacity_items_per_hour: { batch: 60000, realtime: 6000 },
    });
    expect(by.openai.lanes).toContainEqual({ lane_id: "openai/gpt-4o-mini/us/batch", model: "gpt-4o-mini", region: "us", mode: "batch" });
    expect(by.openai.observed_by_mode).toEqual({
      batch: { success_rate: 0.992, p50_turnaround_s: 5400, samples: 0 },
      realtime: { success_rate: 0.997, p50_turnaround_s: 6, samples: 0 },
    });
    expect(by.openai.observed).toMatchObject({ samples: 0, p50_turnaround_s: 5400 });
    expect(by.openai.observed.success_rate).toBeCloseTo((0.992 + 0.997) / 2, 4);
    expect(by.groq).toMatchObject({ batch_discount: "0.25", privacy: { zdr_lanes: "all" } });
    expect(by["azure-openai"].privacy.zdr_lanes).toBe("some");
    expect(by.autonomousc).toMatchObject({
      public: false,
      batch_protocol: null,
      privacy: { posture: "standard", data_collection: "allow" },
    });
    expect(by.openrouter).toMatchObject({ rescue: true, public: true, batch_protocol: null, regions: ["global"] });
    expect(by["aws-bedrock"]).toMatchObject({
      batch_protocol: null,
      planned_protocols: ["bedrock-batch"],
      capacity_items_per_hour: { realtime: 3000 },
    });
    expect(by["aws-bedrock"].capacity_items_per_hour.batch).toBeUndefined();
  });

  it("answers one provider by slug, and 404 for an unknown one", async () => {
    const one = await get("/v1/providers/autonomousc");
    expect(one.body).toMatchObject({ slug: "autonomousc", public: false });
    const missing = await get("/v1/providers/nope");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: "not_found", message: "No such provider." });
  });

  it("shows observed statistics once work has run on a lane", async () => {
    const other = await startTestServer();
    try {
      await other.database.db("lane_stats").insert({
        lane_id: "groq/llama-3.1-8b-instruct/us/batch",
        items_succeeded: 90,
        items_failed: 10,
        turnaround_p50_s: 3000,
      });
      // The catalog is cached for a few seconds; drop it as the learning loop does after an update.
      other.platform.appDeps.catalog.invalidate();
      const model = await call(other.base, "GET", "/v1/catalog/models/llama-3.1-8b-instruct");
      const lane = model.body.provider_offerings.find((o: Offering) => o.lane_id === "groq/llama-3.1-8b-instruct/us/batch");
      expect(lane.observed).toEqual({ success_rate: 0.9, p50_turnaround_s: 3000, samples: 100 });
      // Observed samples outweigh the other lanes' untried priors.
      const groq = await call(other.base, "GET", "/v1/providers/groq");
      expect(groq.body.observed).toEqual({ success_rate: 0.9, p50_turnaround_s: 3000, samples: 100 });
    } finally {
      await other.close();
    }
  });
});

describe("fees and route policies", () => {
  it("publishes the fee schedule from the constants the quote engine uses", async () => {
    const res = await get("/v1/pricing");
    expect(res.body).toMatchObject({
      object: "pricing",
      standard_fee_rate: "0.0590",
      workflow_fee_rate: "0.1180",
      margin_floor_rate: "0.0590",
      currency: "usd",
      pricing_updated_at: "2026-11-22T00:00:00.000Z",
    });
    expect(res.body.notes.length).toBeGreaterThan(0);
    expect([STANDARD_FEE_BPS, WORKFLOW_FEE_BPS, MARGIN_FLOOR_BPS].map((b) => formatRate(b))).toEqual(["0.0590", "0.1180", "0.0590"]);
    expect([formatRate(5000, 2), formatRate(2500, 2), formatRate(0, 2), formatRate(1250, 2), formatRate(10_000, 2)]).toEqual([
      "0.50",
      "0.25",
      "0.00",
      "0.125",
      "1.00",
    ]);
  });

  it("lists the named route policies", async () => {
    const res = await get("/v1/route-policies");
    expect(res.body.object).toBe("list");
    const cost = res.body.data.find((p: { name: string }) => p.name === "cost-first");
    expect(cost).toMatchObject({ object: "route_policy", routing_mode: "cheapest", sla_tier: "flex", allowed_regions: ["global"] });
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(["balanced", "sla-first", "private-eu"]));
  });
});

describe("OpenAPI", () => {
  it("lists the catalog paths, public, with the model filters as query parameters", async () => {
    const doc = (await get("/v1/openapi.json")).body;
    for (const path of [
      "/v1/catalog/models",
      "/v1/catalog/models/{slug}",
      "/v1/catalog/workflow-products",
      "/v1/catalog/workflow-products/{slug}",
      "/v1/providers",
      "/v1/providers/{slug}",
      "/v1/pricing",
      "/v1/route-policies",
    ]) {
      expect(doc.paths[path]?.get, path).toBeDefined();
      expect(doc.paths[path].get.security, path).toBeUndefined();
    }
    const params = doc.paths["/v1/catalog/models"].get.parameters;
    const param = (name: string) => params.find((p: { name: string }) => p.name === name);
    for (const name of ["operation", "provider", "hosted_tool", "region"])
      expect(param(name), name).toMatchObject({ in: "query", required: false });
    expect(param("operation").schema.enum).toEqual(["responses", "embeddings", "vision"]);
    expect(param("region").schema.enum).toEqual(["us", "eu", "apac", "global"]);
    expect(param("hosted_tool").schema.enum).toContain("web_search");
    expect(doc.paths["/v1/providers/{slug}"].get.parameters).toContainEqual(
      expect.objectContaining({ name: "slug", in: "path", required: true }),
    );
  });
});
