import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaryTextArray } from "../db/binary-array-param.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

describe("binaryTextArray (a text[] parameter sent in binary)", () => {
  it("reaches PostgreSQL value for value: nulls, empty and multi-byte text, JSON full of quotes and backslashes", async () => {
    const values = ['{"a":"say \\"hi\\"","b":[1,2.5e-3,null]}', null, "", "naïve — 日本語 🚀", "x".repeat(300_000), '"\\\\"'];
    const { rows } = await t.db.raw("SELECT v, ord FROM unnest(?::text[]) WITH ORDINALITY AS u(v, ord) ORDER BY ord", [
      binaryTextArray(values),
    ]);
    expect(rows.map((r: { v: string | null }) => r.v)).toEqual(values);
  });

  it("an empty array is an empty text[], and each element casts to json on its own", async () => {
    const empty = await t.db.raw("SELECT cardinality(?::text[]) AS n", [binaryTextArray([])]);
    expect(empty.rows[0].n).toBe(0);
    const parsed = await t.db.raw("SELECT v::json->>'k' AS k FROM unnest(?::text[]) AS u(v)", [
      binaryTextArray(['{"k":"one"}', '{"k":"two"}']),
    ]);
    expect(parsed.rows.map((r: { k: string }) => r.k)).toEqual(["one", "two"]);
  });

  it("a value that is not JSON fails its cast with PostgreSQL's error, not silently", async () => {
    await expect(t.db.raw("SELECT v::json FROM unnest(?::text[]) AS u(v)", [binaryTextArray(['{"k":'])])).rejects.toThrow(
      /invalid input syntax for type json/,
    );
  });
});
