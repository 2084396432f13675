import { describe, expect, it } from "vitest";
import { BoundedCache } from "./bounded-cache.js";

describe("BoundedCache", () => {
  it("computes a value once while it is kept, and keeps the entries' costs within the budget, oldest out first", () => {
    const cache = new BoundedCache<string, string>(10);
    let made = 0;
    const get = (k: string, cost = 4) => cache.get(k, cost, () => `${k}#${++made}`);
    expect(get("a")).toBe("a#1");
    expect(get("a")).toBe("a#1");
    expect(get("b")).toBe("b#2");
    expect(cache.size).toBe(2);
    expect(get("c")).toBe("c#3"); // 12 > 10: "a" leaves
    expect(cache.size).toBe(2);
    expect(get("b")).toBe("b#2");
    expect(get("a")).toBe("a#4");
  });

  it("answers a value too costly for the whole budget without keeping it", () => {
    const cache = new BoundedCache<string, number>(10);
    let made = 0;
    expect(cache.get("huge", 11, () => ++made)).toBe(1);
    expect(cache.get("huge", 11, () => ++made)).toBe(2);
    expect(cache.size).toBe(0);
  });
});
