import { describe, expect, it } from "vitest";
import { createSimulator } from "./simulator.js";
import { entryForLane, laneMatches } from "./simulator-faults.js";
import { chatItem, collectAll, manyChatItems, request, testLane } from "./test-fixtures.js";
import { ProviderError, type ItemResult } from "./types.js";

const count = (rs: ItemResult[], code: string) => rs.filter((r) => r.error?.code === code).length;

describe("per-item fault injection", () => {
  const faults = { "openai/*": { rate_limit: 0.1, server_error: 0.05, timeout: 0.05, permanent: 0.02, content_policy: 0.03 } };

  it("honours the configured rates over 2,000 items, with the right codes, statuses and retryability", async () => {
    const sim = createSimulator({ turnaroundMs: 0, faults });
    const req = request(manyChatItems(2_000));
    const ref = await sim.submit(req);
    const results = await collectAll(sim, ref, req);
    // ±4 standard deviations of a binomial(2000, p): a failure here is a broken rate, not bad luck.
    const within = (n: number, p: number) => Math.abs(n - 2_000 * p) <= 4 * Math.sqrt(2_000 * p * (1 - p));
    expect(within(count(results, "rate_limited"), 0.1)).toBe(true);
    expect(within(count(results, "provider_error"), 0.05)).toBe(true);
    expect(within(count(results, "timeout"), 0.05)).toBe(true);
    expect(within(count(results, "invalid_input"), 0.02)).toBe(true);
    expect(within(count(results, "content_policy"), 0.03)).toBe(true);

    for (const r of results.filter((x) => x.status === "failed")) {
      expect(r.output).toBeNull();
      expect(r.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
      const expected = {
        rate_limited: { retryable: true, provider_status: 429 },
        provider_error: { retryable: true, provider_status: 500 },
        timeout: { retryable: true, provider_status: undefined },
        invalid_input: { retryable: false, provider_status: 400 },
        content_policy: { retryable: false, provider_status: 400 },
      }[r.error!.code as string];
      expect({ retryable: r.retryable, provider_status: r.error?.provider_status }).toEqual(expected);
    }
    // poll's final counts agree with what collect returned.
    const failed = results.filter((r) => r.status === "failed").length;
    expect(await sim.poll(ref)).toEqual({ status: "completed", counts: { total: 2_000, completed: 2_000 - failed, failed } });
  });

  it("lets a retried attempt succeed, and repeats the same verdict for the same attempt", async () => {
    const sim = createSimulator({ turnaroundMs: 0, faults: { "*": { rate_limit: 0.3 } } });
    const req = request(manyChatItems(200), testLane(), "wu_first");
    const first = await collectAll(sim, await sim.submit(req), req);
    const failedIds = new Set(first.filter((r) => r.retryable).map((r) => r.customer_item_id));
    expect(failedIds.size).toBeGreaterThan(20);

    const again = await collectAll(sim, await sim.submit(req), req);
    expect(again).toEqual(first);

    const retryItems = manyChatItems(200, 2).filter((wi) => failedIds.has(wi.customer_item_id));
    const retryReq = request(retryItems, testLane(), "wu_retry");
    const second = await collectAll(sim, await sim.submit(retryReq), retryReq);
    const recovered = second.filter((r) => r.status === "completed").length;
    expect(recovered).toBeGreaterThan(failedIds.size / 2);
  });

  it("leaves lanes that no entry matches alone", async () => {
    const sim = createSimulator({ turnaroundMs: 0, faults: { "anthropic/*": { permanent: 1 } } });
    const req = request(manyChatItems(20));
    expect((await collectAll(sim, await sim.submit(req), req)).every((r) => r.status === "completed")).toBe(true);
  });
});

describe("magic triggers in the input text", () => {
  const sim = createSimulator({ turnaroundMs: 0 });
  const attempt = async (marker: string, n: number) => {
    const req = request([chatItem("m", `Please answer. ${marker}`, {}, n)]);
    return (await collectAll(sim, await sim.submit(req), req))[0]!;
  };

  it("fails content_policy and invalid_input on every attempt, not retryable", async () => {
    for (let n = 1; n <= 8; n++) {
      expect(await attempt("[simulate:content_policy]", n)).toMatchObject({
        status: "failed",
        retryable: false,
        error: { code: "content_policy", provider_status: 400 },
      });
      expect(await attempt("[simulate:invalid_input]", n)).toMatchObject({
        status: "failed",
        retryable: false,
        error: { code: "invalid_input", provider_status: 400 },
      });
    }
  });

  it("fails rate_limit, server_error and timeout on attempts 1 and 2 only, retryable", async () => {
    const cases = [
      ["[simulate:rate_limit]", { code: "rate_limited", provider_status: 429 }],
      ["[simulate:server_error]", { code: "provider_error", provider_status: 500 }],
      ["[simulate:timeout]", { code: "timeout" }],
    ] as const;
    for (const [marker, error] of cases) {
      expect(await attempt(marker, 1)).toMatchObject({ status: "failed", retryable: true, error });
      expect(await attempt(marker, 2)).toMatchObject({ status: "failed", retryable: true, error });
      const third = await attempt(marker, 3);
      expect(third.status).toBe("completed");
      expect((third.output as { text: string }).text).not.toContain("[simulate:");
    }
  });
});

describe("submit faults", () => {
  it("lane_down makes every submit throw a retryable 503, on that lane only", async () => {
    const sim = createSimulator({ turnaroundMs: 0, faults: { "openai/gpt-4o-mini/us/batch": { lane_down: true } } });
    for (let i = 0; i < 3; i++) {
      const err = await sim.submit(request(manyChatItems(2))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ code: "lane_down", status: 503, retryable: true });
      expect(sim.classify(err)).toBe("retryable");
    }
    const other = testLane({ lane_id: "openai/gpt-4o-mini/eu/batch", region: "eu" });
    await expect(sim.submit(request(manyChatItems(2), other))).resolves.toHaveProperty("provider_job_id");
  });

  it("submit_error refuses jobs as a rate limit, a server error or a full lane", async () => {
    const lane = (k: string) => testLane({ lane_id: `sim/${k}/us/batch` });
    const sim = createSimulator({
      faults: {
        "sim/a/*": { submit_error: "rate_limited" },
        "sim/b/*": { submit_error: "server_error" },
        "sim/c/*": { submit_error: "capacity" },
      },
    });
    await expect(sim.submit(request(manyChatItems(1), lane("a")))).rejects.toMatchObject({
      code: "rate_limited",
      status: 429,
      retryAfterMs: 1_000,
      retryable: true,
    });
    await expect(sim.submit(request(manyChatItems(1), lane("b")))).rejects.toMatchObject({
      code: "provider_error",
      status: 500,
      retryable: true,
    });
    await expect(sim.submit(request(manyChatItems(1), lane("c")))).rejects.toMatchObject({ code: "lane_at_capacity", retryable: true });
  });

  it("an aborted signal stops submit", async () => {
    const sim = createSimulator();
    await expect(sim.submit(request(manyChatItems(1)), AbortSignal.abort())).rejects.toMatchObject({ code: "aborted" });
  });
});

describe("lane patterns", () => {
  it("matches globs over whole lane ids; the exact id, then the most specific glob, wins", () => {
    expect(laneMatches("openai/*", "openai/gpt-4o/us/batch")).toBe(true);
    expect(laneMatches("openai/*/eu/*", "openai/gpt-4o/us/batch")).toBe(false);
    expect(laneMatches("openai/gpt-4o", "openai/gpt-4o/us/batch")).toBe(false);
    const table = { "*": 1, "openai/*": 2, "openai/gpt-4o/*/batch": 3, "openai/gpt-4o/us/batch": 4 };
    expect(entryForLane(table, "openai/gpt-4o/us/batch")).toBe(4);
    expect(entryForLane(table, "openai/gpt-4o/eu/batch")).toBe(3);
    expect(entryForLane(table, "openai/gpt-4o/eu/realtime")).toBe(2);
    expect(entryForLane(table, "groq/x/us/batch")).toBe(1);
    expect(entryForLane({ "openai.*": 1 }, "openaiX/y")).toBeUndefined(); // dots are literal
  });
});
