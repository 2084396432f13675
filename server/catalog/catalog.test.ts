import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyDiscountBps, expandLanes, usdToMicros } from "./lanes.js";
import { loadCatalogFromDisk, SEED_CATALOG_DIR } from "./load-catalog.js";
import { CatalogValidationError, findWorkflowProduct, parseCatalog, type RawCatalogFiles } from "./parse-catalog.js";

const catalog = await loadCatalogFromDisk();
const lanes = expandLanes(catalog);
const lane = (id: string) => {
  const l = lanes.find((x) => x.lane_id === id);
  if (!l) throw new Error(`no lane ${id}`);
  return l;
};

function rawFiles(): RawCatalogFiles {
  const read = (f: string) => JSON.parse(readFileSync(join(SEED_CATALOG_DIR, f), "utf8")) as unknown;
  return {
    "meta.json": read("meta.json"),
    "providers.json": read("providers.json"),
    "models.json": read("models.json"),
    "route-policies.json": read("route-policies.json"),
    "workflow-products.json": read("workflow-products.json"),
  };
}

function issuesOf(edit: (raw: any) => void) {
  const raw = rawFiles();
  edit(raw);
  try {
    parseCatalog(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogValidationError);
    return (err as CatalogValidationError).issues.map((i) => `${i.file} ${i.path}: ${i.message}`);
  }
  throw new Error("the edit was accepted");
}

describe("seed catalog", () => {
  it("holds every provider, model and workflow product of catalog.md", () => {
    expect(catalog.providers.map((p) => p.slug)).toEqual([
      "openai",
      "azure-openai",
      "anthropic",
      "aws-bedrock",
      "google",
      "groq",
      "together",
      "deepinfra",
      "mistral",
      "autonomousc",
      "openrouter",
    ]);
    expect(catalog.models).toHaveLength(15);
    expect(catalog.workflow_products.map((w) => w.slug)).toEqual([
      "classify-support-tickets@v3",
      "extract-invoice-fields@v1",
      "summarize-support-queue@v2",
      "embed-documents@v1",
      "agent-main-thread@v1",
    ]);
    expect(catalog.workflow_products.every((w) => w.fee_rate === "0.1180")).toBe(true);
    expect(catalog.route_policies.map((p) => p.name)).toEqual(
      expect.arrayContaining(["cost-first", "private-eu", "sla-first", "balanced"]),
    );
    expect(catalog.meta.pricing_updated_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("finds a workflow product by slug or by bare name", () => {
    expect(findWorkflowProduct(catalog.workflow_products, "agent-main-thread")?.slug).toBe("agent-main-thread@v1");
    expect(findWorkflowProduct(catalog.workflow_products, "classify-support-tickets@v3")?.routing_posture).toBe("cost-first");
    expect(findWorkflowProduct(catalog.workflow_products, "classify-support-tickets@v2")).toBeUndefined();
  });
});

describe("expandLanes", () => {
  it("prices lanes in integer micro-dollars per Mtok with the batch discount applied", () => {
    const l = lane("openai/gpt-4o-mini/us/batch");
    expect([l.input_per_mtok_micros, l.output_per_mtok_micros]).toEqual([75_000, 300_000]);
    expect([l.list_input_per_mtok_micros, l.list_output_per_mtok_micros, l.batch_discount_bps]).toEqual([150_000, 600_000, 5000]);
    const rt = lane("openai/gpt-4o-mini/us/realtime");
    expect([rt.input_per_mtok_micros, rt.output_per_mtok_micros, rt.batch_discount_bps]).toEqual([150_000, 600_000, 0]);
    // DeepInfra's batch discount is 20 %, Groq's 25 %.
    expect(lane("deepinfra/llama-3.3-70b-instruct/us/batch").input_per_mtok_micros).toBe(184_000);
    expect(lane("groq/llama-3.1-8b-instruct/us/batch").output_per_mtok_micros).toBe(60_000);
    expect(lane("openai/text-embedding-3-small/eu/batch").output_per_mtok_micros).toBe(0);
  });

  it("makes one lane per provider, model, region and mode", () => {
    expect(lanes).toHaveLength(94);
    expect(new Set(lanes.map((l) => l.lane_id)).size).toBe(lanes.length);
    expect(lanes.filter((l) => l.model === "gpt-4o-mini").map((l) => l.lane_id)).toEqual([
      "openai/gpt-4o-mini/us/batch",
      "openai/gpt-4o-mini/us/realtime",
      "openai/gpt-4o-mini/eu/batch",
      "openai/gpt-4o-mini/eu/realtime",
      "azure-openai/gpt-4o-mini/us/batch",
      "azure-openai/gpt-4o-mini/us/realtime",
      "azure-openai/gpt-4o-mini/eu/batch",
      "azure-openai/gpt-4o-mini/eu/realtime",
      "openrouter/gpt-4o-mini/global/realtime",
    ]);
    // Providers without a batch API yet have real-time lanes only.
    expect(lanes.filter((l) => ["aws-bedrock", "google", "mistral"].includes(l.provider)).every((l) => l.mode === "realtime")).toBe(true);
    expect(lane("mistral/mistral-small/eu/realtime").region).toBe("eu");
  });

  it("derives each lane privacy from the provider posture", () => {
    expect(lane("azure-openai/gpt-4o-mini/eu/batch").privacy).toEqual({ zdr: true, no_training: true, data_collection: "deny" });
    expect(lane("azure-openai/gpt-4o-mini/us/batch").privacy.zdr).toBe(false);
    expect(lanes.filter((l) => l.provider === "anthropic").every((l) => !l.privacy.zdr && l.privacy.no_training)).toBe(true);
    expect(lane("aws-bedrock/claude-haiku-4/eu/realtime").privacy.zdr).toBe(true);
    expect(lane("autonomousc/llama-3.1-8b-instruct/eu/realtime").privacy).toEqual({
      zdr: false,
      no_training: false,
      data_collection: "allow",
    });
  });

  it("marks sla tiers, public and rescue lanes, and starts from the priors", () => {
    expect(lane("openai/gpt-4o/us/batch").sla_tiers).toEqual(["flex", "standard"]);
    expect(lane("openai/gpt-4o/us/realtime").sla_tiers).toEqual(["flex", "standard", "priority"]);
    const or = lane("openrouter/gpt-4o-mini/global/realtime");
    expect([or.region, or.rescue, or.public]).toEqual(["global", true, true]);
    expect(lanes.filter((l) => l.provider === "autonomousc").every((l) => !l.public)).toBe(true);
    expect(lanes.filter((l) => l.provider !== "openrouter").every((l) => !l.rescue)).toBe(true);
    expect(lane("openai/gpt-4o-mini/us/batch")).toMatchObject({
      capacity_items_per_hour: 60_000,
      healthy: true,
      observed: { samples: 0, backlog_items: 0 },
    });
    expect(lane("deepinfra/gemma-4-e4b-it/us/batch").tool_support).toBe(false);
    expect(lane("aws-bedrock/claude-haiku-4/us/realtime").hosted_tools).toEqual(["calculator", "time"]);
  });
});

describe("money helpers", () => {
  it("reads USD decimals exactly", () => {
    expect(usdToMicros("0.15")).toBe(150_000);
    expect(usdToMicros("10.00")).toBe(10_000_000);
    expect(usdToMicros("0.000001")).toBe(1);
    expect(() => usdToMicros("0.1234567")).toThrow(RangeError);
  });

  it("rounds a discounted price half up", () => {
    expect(applyDiscountBps(150_000, 5000)).toBe(75_000);
    expect(applyDiscountBps(3, 5000)).toBe(2); // 1.5 → 2
    expect(applyDiscountBps(5, 2500)).toBe(4); // 3.75 → 4
    expect(applyDiscountBps(7, 2000)).toBe(6); // 5.6 → 6
  });
});

describe("a bad catalog edit fails loudly with a path", () => {
  it("rejects a malformed price", () => {
    expect(
      issuesOf((r) => {
        r["models.json"][0].offerings[0].input_per_mtok = "0.1234567";
      }),
    ).toEqual([expect.stringMatching(/^models\.json \[0\]\.offerings\[0\]\.input_per_mtok: /)]);
  });

  it("rejects a misspelt field", () => {
    expect(
      issuesOf((r) => {
        r["providers.json"][0].regoins = ["us"];
      })[0],
    ).toMatch(/^providers\.json \[0\]/);
  });

  it("rejects an offering by an unknown provider", () => {
    expect(
      issuesOf((r) => {
        r["models.json"][1].offerings[0].provider = "opnai";
      }),
    ).toContain('models.json [1].offerings[0].provider: unknown provider "opnai"');
  });

  it("refuses to make an anthropic batch lane zdr", () => {
    expect(
      issuesOf((r) => {
        r["providers.json"][2].privacy.posture = "zdr";
      })[0],
    ).toMatch(/providers\.json \[2\]\.privacy: .*never be zdr/);
  });

  it("rejects a workflow preset that drifts from its route policy", () => {
    expect(
      issuesOf((r) => {
        r["workflow-products.json"][0].preset_manifest.sla_tier = "priority";
      }),
    ).toEqual(expect.arrayContaining([expect.stringMatching(/^workflow-products\.json \[0\]\.preset_manifest\.sla_tier: /)]));
  });

  it("rejects a default route product nobody offers", () => {
    expect(
      issuesOf((r) => {
        r["workflow-products.json"][3].default_route_products = ["anthropic/text-embedding-3-small"];
      }),
    ).toContain("workflow-products.json [3].default_route_products[0]: anthropic does not offer text-embedding-3-small");
  });
});
