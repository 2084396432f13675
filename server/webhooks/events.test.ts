import { describe, expect, it } from "vitest";
import { JOBS, webhookRetryWait } from "../jobs/contracts.js";
import { buildEvent, shouldSendProgress, WEBHOOK_EVENT_TYPES, type BatchEventFacts } from "./events.js";

const facts: BatchEventFacts = {
  batch_id: "bat_01abc",
  status: "completed",
  items_total: 10,
  items_completed: 9,
  items_failed: 1,
  cost_micros: 1_234_567,
  output_file_url: "https://br.example/v1/files/file_1/content?sig=x",
  error_file_url: null,
};

describe("buildEvent", () => {
  it("builds the documented body with a fresh evt_ id and the cost as a decimal string", () => {
    const now = new Date("2025-06-01T12:00:00.900Z");
    const e = buildEvent("batch.completed", facts, now);
    expect(e).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-z]{26}$/),
      type: "batch.completed",
      event: "batch.completed",
      created: 1748779200,
      batch_id: "bat_01abc",
      data: {
        batch_id: "bat_01abc",
        status: "completed",
        items_total: 10,
        items_completed: 9,
        items_failed: 1,
        cost_usd: "1.234567",
        output_file_url: "https://br.example/v1/files/file_1/content?sig=x",
        error_file_url: null,
      },
    });
    expect(buildEvent("batch.completed", facts).id).not.toBe(e.id);
  });

  it("knows the six event types", () => {
    expect([...WEBHOOK_EVENT_TYPES]).toEqual([
      "batch.submitted",
      "batch.progress",
      "batch.completed",
      "batch.failed",
      "batch.cancelled",
      "batch.expired",
    ]);
  });
});

describe("shouldSendProgress", () => {
  const t0 = new Date("2025-06-01T12:00:00Z");
  const at = (ms: number) => new Date(t0.getTime() + ms);
  it("sends the first, then at most every 30 s", () => {
    expect(shouldSendProgress(null, t0)).toBe(true);
    expect(shouldSendProgress(t0, at(29_999))).toBe(false);
    expect(shouldSendProgress(t0, at(30_000))).toBe(true);
    expect(shouldSendProgress(t0, at(-5_000))).toBe(false); // a clock step back doesn't open the gate
  });
});

describe("webhook retry schedule", () => {
  it("makes 8 attempts whose retries span about 24 h on average (16–32 h with jitter)", () => {
    const { retryLimit, retryDelay, retryBackoff } = JOBS.webhook.options;
    expect(retryLimit + 1).toBe(8);
    expect(retryBackoff).toBe(true);
    const waits = Array.from({ length: retryLimit }, (_, i) => webhookRetryWait(i + 1, retryDelay));
    expect(waits[0]).toEqual([450, 900]);
    expect(waits[6]).toEqual([28_800, 57_600]);
    const min = waits.reduce((s, [lo]) => s + lo, 0);
    const max = waits.reduce((s, [, hi]) => s + hi, 0);
    const mean = (min + max) / 2;
    expect(min / 3600).toBeCloseTo(15.875, 3);
    expect(max / 3600).toBeCloseTo(31.75, 3);
    expect(Math.abs(mean / 3600 - 24)).toBeLessThan(0.5);
  });
});
