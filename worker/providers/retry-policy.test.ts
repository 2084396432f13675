import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffMs, classifyError, MAX_ATTEMPTS, parseRetryAfter, shouldRetry, withRetries } from "./retry-policy.js";
import { createSimulator } from "./simulator.js";
import { ProviderError } from "./types.js";

describe("backoffMs", () => {
  const opts = { baseMs: 500, maxMs: 60_000 };

  it("never exceeds maxMs and is never negative, whatever the attempt, Retry-After or random draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
        (attempt, r, retryAfterMs) => {
          const d = backoffMs(attempt, { ...opts, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }, () => r);
          return Number.isInteger(d) && d >= 0 && d <= opts.maxMs;
        },
      ),
    );
  });

  it("uses full jitter under a ceiling that doubles with each attempt until the cap", () => {
    const top = () => 0.999_999;
    const ceilings = Array.from({ length: MAX_ATTEMPTS }, (_, i) => backoffMs(i + 1, opts, top));
    expect(ceilings.slice(0, 7)).toEqual([499, 999, 1_999, 3_999, 7_999, 15_999, 31_999]);
    expect(ceilings[7]).toBe(59_999);
    for (let i = 1; i < ceilings.length; i++) expect(ceilings[i]).toBeGreaterThan(ceilings[i - 1]!);
    expect(backoffMs(3, opts, () => 0)).toBe(0);
    expect(backoffMs(3, opts, () => 0.5)).toBe(1_000);
  });

  it("waits at least the Retry-After, up to maxMs", () => {
    expect(backoffMs(1, { ...opts, retryAfterMs: 7_000 }, () => 0)).toBe(7_000);
    expect(backoffMs(8, { ...opts, retryAfterMs: 7_000 }, () => 0.9)).toBe(54_000); // the jitter was longer
    expect(backoffMs(1, { ...opts, retryAfterMs: 600_000 }, () => 0)).toBe(60_000);
  });

  it("spreads delays out (Math.random by default)", () => {
    const draws = new Set(Array.from({ length: 50 }, () => backoffMs(6, opts)));
    expect(draws.size).toBeGreaterThan(10);
  });
});

describe("attempts", () => {
  it("allows 8 attempts per item, and none after a permanent failure", () => {
    expect(MAX_ATTEMPTS).toBe(8);
    expect(shouldRetry(1, "retryable")).toBe(true);
    expect(shouldRetry(7, "retryable")).toBe(true);
    expect(shouldRetry(8, "retryable")).toBe(false);
    expect(shouldRetry(1, "permanent")).toBe(false);
  });
});

describe("classifyError (and every adapter's classify)", () => {
  const sim = createSimulator();
  it.each([408, 409, 429, 500, 502, 503, 504])("HTTP %i is retryable", (status) => {
    expect(classifyError({ status })).toBe("retryable");
    expect(sim.classify(new ProviderError({ code: "x", message: "x", status }))).toBe("retryable");
  });
  it.each([400, 401, 403, 404, 422])("HTTP %i is permanent", (status) => {
    expect(classifyError({ status })).toBe("permanent");
    expect(classifyError({ response: { status } })).toBe("permanent");
    expect(sim.classify(new ProviderError({ code: "x", message: "x", status }))).toBe("permanent");
  });
  it("retries timeouts and network errors, not programming errors", () => {
    expect(classifyError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe("retryable");
    expect(classifyError(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }))).toBe("retryable");
    expect(classifyError(new DOMException("timed out", "TimeoutError"))).toBe("retryable");
    expect(classifyError(new ProviderError({ code: "network_error", message: "reset" }))).toBe("retryable");
    expect(classifyError(new TypeError("x is not a function"))).toBe("permanent");
    expect(classifyError("boom")).toBe("permanent");
  });
  it("lets a ProviderError's own verdict win over its status", () => {
    expect(classifyError(new ProviderError({ code: "lane_at_capacity", message: "full", status: 400, retryable: true }))).toBe("retryable");
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3_000);
    expect(parseRetryAfter("1.5")).toBe(1_500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("withRetries", () => {
  const failing = (errors: unknown[]) => {
    let calls = 0;
    const fn = async () => {
      const err = errors[calls++];
      if (err !== undefined) throw err;
      return calls;
    };
    return { fn, calls: () => calls };
  };
  const busy = new ProviderError({ code: "rate_limited", status: 429, message: "busy", retryAfterMs: 1 });

  it("tries a retryable failure again, up to the bound", async () => {
    const ok = failing([busy, busy]);
    await expect(withRetries(ok.fn, { attempts: 3, baseMs: 1 })).resolves.toBe(3);
    const never = failing([busy, busy, busy]);
    await expect(withRetries(never.fn, { attempts: 3, baseMs: 1 })).rejects.toBe(busy);
    expect(never.calls()).toBe(3);
  });

  it("gives up at once on a permanent failure", async () => {
    const refused = new ProviderError({ code: "invalid_request", status: 400, message: "no" });
    const once = failing([refused]);
    await expect(withRetries(once.fn, { attempts: 5, baseMs: 1 })).rejects.toBe(refused);
    expect(once.calls()).toBe(1);
  });
});
