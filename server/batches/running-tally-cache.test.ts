import { describe, expect, it } from "vitest";
import type { ItemTally } from "../../db/queries/batch-view.js";
import { RunningTallyCache, TALLY_TTL_MS } from "./running-tally-cache.js";

const tally = (completed: number): ItemTally => ({ counts: { completed }, lanes: [] });

describe("RunningTallyCache", () => {
  it("counts once, answers from memory within the TTL, then answers the last tally while one count refreshes it", async () => {
    const cache = new RunningTallyCache();
    let calls = 0;
    let release: (t: ItemTally) => void = () => undefined;
    const count = () => {
      calls++;
      return calls === 1 ? Promise.resolve(tally(1)) : new Promise<ItemTally>((r) => (release = r));
    };
    const t0 = Date.now();
    expect(await cache.get("b", count, t0)).toEqual(tally(1));
    expect(await cache.get("b", count, t0 + 10)).toEqual(tally(1));
    expect(calls).toBe(1);
    // Stale: the old tally at once, and a single background count however many polls arrive.
    const stale = t0 + TALLY_TTL_MS + 1;
    expect(await cache.get("b", count, stale)).toEqual(tally(1));
    expect(await cache.get("b", count, stale)).toEqual(tally(1));
    expect(calls).toBe(2);
    release(tally(7));
    await new Promise((r) => setImmediate(r));
    expect(await cache.get("b", count, stale + 1)).toEqual(tally(7));
  });

  it("keeps the last tally when a background count fails, and tries again at the next poll", async () => {
    const cache = new RunningTallyCache();
    const t0 = Date.now();
    await cache.get("b", async () => tally(1), t0);
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("database down");
    };
    expect(await cache.get("b", failing, t0 + TALLY_TTL_MS + 1)).toEqual(tally(1));
    await new Promise((r) => setImmediate(r));
    expect(await cache.get("b", failing, t0 + TALLY_TTL_MS + 2)).toEqual(tally(1));
    expect(calls).toBe(2);
  });

  it("keeps a tally that was slow to count for ten times its counting time, so counting takes at most an eleventh of the time", async () => {
    const cache = new RunningTallyCache();
    const t0 = Date.now();
    cache.seed("b", tally(1), t0, 500); // a count that took 500 ms
    let calls = 0;
    const count = async () => {
      calls++;
      return tally(2);
    };
    expect(await cache.get("b", count, t0 + TALLY_TTL_MS + 1)).toEqual(tally(1));
    expect(await cache.get("b", count, t0 + 4999)).toEqual(tally(1));
    expect(calls).toBe(0);
    await cache.get("b", count, t0 + 5000);
    expect(calls).toBe(1);
  });

  it("a first read that fails is the caller's error; forget drops the batch", async () => {
    const cache = new RunningTallyCache();
    await expect(cache.get("b", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    cache.seed("c", tally(3));
    expect(cache.has("c")).toBe(true);
    cache.forget("c");
    expect(cache.has("c")).toBe(false);
  });
});
