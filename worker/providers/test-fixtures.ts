import type { ManifestItem } from "../../server/manifest/item-schema.js";
import type { Lane } from "../../server/catalog/types.js";
import type { ItemResult, ProviderAdapter, ProviderJobRef, SubmitRequest, WorkUnitItem } from "./types.js";

// Shared by the adapter tests (vitest picks up only *.test.ts, so this file is never run itself).

/** A lane shaped like the catalog's expandLanes() output. */
export function testLane(overrides: Partial<Lane> = {}): Lane {
  const provider = overrides.provider ?? "openai";
  const model = overrides.model ?? "gpt-4o-mini";
  return {
    lane_id: `${provider}/${model}/us/batch`,
    served_as: model,
    provider,
    model,
    region: "us",
    mode: "batch",
    protocol: "openai-batch",
    operations: ["responses", "vision"],
    context_window: 128_000,
    max_output_tokens: 16_384,
    input_per_mtok_micros: 75_000,
    output_per_mtok_micros: 300_000,
    batch_discount_bps: 5_000,
    list_input_per_mtok_micros: 150_000,
    list_output_per_mtok_micros: 600_000,
    privacy: { zdr: false, no_training: true, data_collection: "deny" },
    tool_support: true,
    hosted_tools: [],
    public: true,
    rescue: false,
    sla_tiers: ["flex", "standard"],
    capacity_items_per_hour: 100_000,
    observed: { success_rate: 0.99, p50_turnaround_s: 3600, backlog_items: 0, samples: 0 },
    healthy: true,
    ...overrides,
  };
}

export const embeddingLane = (model = "text-embedding-3-small") =>
  testLane({ model, lane_id: `openai/${model}/us/batch`, operations: ["embeddings"], max_output_tokens: 0, context_window: 8_192 });

export function workItem(
  id: string,
  item: Omit<ManifestItem, "customer_item_id">,
  opts: { attempt?: number; model?: string } = {},
): WorkUnitItem {
  const operation = item.operation ?? "responses";
  return {
    item_id: `itm_${id}`,
    customer_item_id: id,
    operation,
    model: opts.model ?? item.model ?? (operation === "embeddings" ? "text-embedding-3-small" : "gpt-4o-mini"),
    item: { customer_item_id: id, ...item },
    attempt: opts.attempt ?? 1,
  };
}

/** A chat-style responses item with one user message. */
export const chatItem = (id: string, text: string, extra: Partial<ManifestItem> = {}, attempt = 1) =>
  workItem(id, { operation: "responses", input: { messages: [{ role: "user", content: text }] }, ...extra }, { attempt });

export const manyChatItems = (n: number, attempt = 1) =>
  Array.from({ length: n }, (_, i) => chatItem(`item-${i}`, `Summarize ticket number ${i}: the app crashes on login.`, {}, attempt));

export function request(items: WorkUnitItem[], lane: Lane = testLane(), work_unit_id = "wu_test_0001"): SubmitRequest {
  return { work_unit_id, lane, items };
}

export async function collectAll(adapter: ProviderAdapter, ref: ProviderJobRef, req: SubmitRequest): Promise<ItemResult[]> {
  const out: ItemResult[] = [];
  for await (const r of adapter.collect(ref, req)) out.push(r);
  return out;
}

/** A clock tests move by hand. */
export function manualClock(start = 1_767_225_600_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}
