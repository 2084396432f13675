import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { type AnthropicFake, startAnthropicFake } from "../../test/fakes/anthropic-fake.js";
import { type OpenAiFake, startOpenAiFake } from "../../test/fakes/openai-fake.js";
import { DEFAULT_FAULTS } from "../../test/fakes/openai-fake-faults.js";
import { pool, realtimeAdapter } from "./realtime.js";
import { testLane } from "./test-fixtures.js";
import type { ItemResult, ProviderAdapter, WorkUnitItem } from "./types.js";

// The real-time adapter against loopback fakes of OpenAI's and Anthropic's APIs.

let openai: OpenAiFake;
let anthropic: AnthropicFake;
beforeAll(async () => {
  openai = await startOpenAiFake({ apiKey: "sk-rt" });
  anthropic = await startAnthropicFake({ apiKey: "sk-ant-rt" });
});
afterAll(async () => {
  await openai?.close();
  await anthropic?.close();
});
afterEach(() => openai.setFaults(DEFAULT_FAULTS));

const endpoint = (over: Partial<ProviderEndpoint> = {}): ProviderEndpoint => ({
  slug: "openai",
  kind: "openai",
  baseUrl: `${openai.baseUrl}/v1`,
  apiKey: "sk-rt",
  maxConcurrency: 2,
  requestsPerMinute: 0,
  ...over,
});
const lane = testLane({ provider: "openai", model: "gpt-4o-mini", mode: "realtime", protocol: "realtime" });
const item = (i: number, text = `ticket ${i}`): WorkUnitItem => ({
  item_id: `bat_rt:${i}`,
  customer_item_id: `c-${i}`,
  operation: "responses",
  model: "gpt-4o-mini",
  attempt: 1,
  item: {
    customer_item_id: `c-${i}`,
    input: {
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: text },
      ],
    },
  },
});

async function collect(adapter: ProviderAdapter, items: WorkUnitItem[]): Promise<Map<string, ItemResult>> {
  const req = { work_unit_id: "wu_rt", lane, items };
  const ref = await adapter.submit(req);
  expect((await adapter.poll(ref)).status).toBe("completed");
  const out = new Map<string, ItemResult>();
  for await (const r of adapter.collect(ref, req)) {
    expect(out.has(r.item_id)).toBe(false);
    out.set(r.item_id, r);
  }
  return out;
}

describe("real-time adapter", () => {
  it("sends one request per item and yields each result once, with the provider's usage", async () => {
    const before = openai.requests.length;
    const got = await collect(
      realtimeAdapter(lane, endpoint()),
      Array.from({ length: 5 }, (_, i) => item(i)),
    );
    expect(got.size).toBe(5);
    for (const [id, r] of got) {
      expect(r.status).toBe("completed");
      expect((r.output as { text: string }).text).toContain(`ticket ${id.split(":")[1]}`);
      expect(r.usage.output_tokens).toBeGreaterThan(0);
    }
    expect(openai.requests.slice(before).filter((r) => r.path === "/v1/chat/completions")).toHaveLength(5);
  });

  it("honours Retry-After on a 429 and then succeeds; fails a 400 for good and a 500 that persists retryably", async () => {
    openai.setFaults({ failRealtime: 1, kinds: ["429"], retryAfterSeconds: 0.2 });
    const started = Date.now();
    const first = await collect(realtimeAdapter(lane, endpoint({ maxConcurrency: 1 }), { retryBaseMs: 5 }), [item(0)]);
    expect(first.get("bat_rt:0")!.status).toBe("completed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    openai.setFaults({ ...DEFAULT_FAULTS, failRealtime: 3, kinds: ["500"] });
    const failing = await collect(realtimeAdapter(lane, endpoint({ maxConcurrency: 1 }), { retryBaseMs: 5 }), [item(1)]);
    expect(failing.get("bat_rt:1")).toMatchObject({
      status: "failed",
      retryable: true,
      error: { code: "provider_error", provider_status: 500 },
    });
    const refused = await collect(realtimeAdapter(lane, endpoint(), { retryBaseMs: 5 }), [item(2, "[fail:400] no")]);
    expect(refused.get("bat_rt:2")).toMatchObject({ status: "failed", retryable: false, error: { code: "invalid_input" } });
  });

  it("speaks Anthropic's Messages API to an Anthropic endpoint, with the system prompt lifted out", async () => {
    const ep: ProviderEndpoint = {
      slug: "anthropic",
      kind: "anthropic",
      baseUrl: anthropic.baseUrl,
      apiKey: "sk-ant-rt",
      maxConcurrency: 2,
      requestsPerMinute: 0,
    };
    const claude = testLane({
      provider: "anthropic",
      model: "claude-haiku-4",
      served_as: "claude-haiku-5-5",
      mode: "realtime",
      protocol: "realtime",
    });
    const got = await collect(realtimeAdapter(claude, ep), [item(7)]);
    expect(got.get("bat_rt:7")).toMatchObject({ status: "completed" });
    expect((got.get("bat_rt:7")!.output as { text: string }).text).toContain("ticket 7");
  });

  it("keeps at most `limit` calls in flight and yields results as they finish", async () => {
    let inFlight = 0;
    let most = 0;
    const work = async (n: number) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5 + (n % 3) * 5));
      inFlight--;
      return n;
    };
    const out: number[] = [];
    for await (const n of pool(
      Array.from({ length: 12 }, (_, i) => i),
      3,
      work,
    ))
      out.push(n);
    expect(most).toBe(3);
    expect(out.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});
