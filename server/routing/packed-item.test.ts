import { describe, expect, it } from "vitest";
import { ItemKinds, RoutingColumns, UniformRoutingItems } from "./packed-item.js";

describe("RoutingColumns", () => {
  const kinds = new ItemKinds();
  const models = ["m1", "m2"];
  const chat = kinds.of("responses", models, false, []);
  const search = kinds.of("responses", models, true, ["web_search"]);

  it("keeps each item's position, tokens and kind as pushed, growing past its first capacity", () => {
    const cols = new RoutingColumns(1);
    for (let i = 0; i < 100; i++) cols.push(i + 7, `id-${i}`, i % 3 === 0 ? search : chat, i * 10, 4_000_000_000 - i);
    expect(cols.length).toBe(100);
    expect([cols.index(0), cols.index(99)]).toEqual([7, 106]);
    expect([cols.inputTokens(42), cols.outputTokens(42)]).toEqual([420, 4_000_000_000 - 42]);
    expect(cols.kind(3)).toBe(search);
    expect(cols.kind(4)).toBe(chat);
    expect(cols.customerItemId(99)).toBe("id-99");
  });

  it("shares one kind object per distinct (operation, models list, tools)", () => {
    expect(kinds.of("responses", models, false, [])).toBe(chat);
    expect(kinds.of("embeddings", models, false, [])).not.toBe(chat);
  });

  it("leaves ids out when asked, and lets the items go on clear()", () => {
    const cols = new RoutingColumns(4, false);
    cols.push(0, "a", chat, 1, 2);
    expect(cols.customerItemId(0)).toBe("");
    cols.clear();
    expect(cols.length).toBe(0);
    cols.push(0, "b", chat, 3, 4); // usable again
    expect(cols.inputTokens(0)).toBe(3);
  });

  it("refuses a value its columns can't hold instead of wrapping it", () => {
    const cols = new RoutingColumns(4);
    expect(() => cols.push(0, "a", chat, -1, 0)).toThrow(RangeError);
    expect(() => cols.push(0, "a", chat, 1.5, 0)).toThrow(RangeError);
    expect(() => cols.push(0, "a", chat, 0, 2 ** 32)).toThrow(/output_tokens/);
    expect(cols.length).toBe(0);
  });
});

describe("UniformRoutingItems", () => {
  it("is count alike items without an object each", () => {
    const kind = new ItemKinds().of("embeddings", ["e1"], false, []);
    const items = new UniformRoutingItems(1_000_000, kind, 256, 0);
    expect(items.length).toBe(1_000_000);
    expect([items.index(999_999), items.customerItemId(999_999), items.inputTokens(), items.kind()]).toEqual([
      999_999,
      "estimated-1000000",
      256,
      kind,
    ]);
  });
});
