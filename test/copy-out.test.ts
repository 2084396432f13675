import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyOutValues } from "../db/copy-binary-out.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const LINES = "SELECT 'line ' || g || E'\\n' FROM generate_series(1, 200000) g ORDER BY g";

describe("copyOutValues (binary COPY out of PostgreSQL)", () => {
  it("streams a query's single column as bytes, in order, with the SET LOCALs applied", async () => {
    let text = "";
    for await (const b of copyOutValues(t.db, LINES, ["SET LOCAL enable_sort = off"])) text += b.toString();
    const lines = text.split("\n");
    expect(lines).toHaveLength(200_001);
    expect(lines[0]).toBe("line 1");
    expect(lines[199_999]).toBe("line 200000");
    // SET LOCAL lasted only for its transaction: the pooled connection is back to the defaults.
    const settings = await Promise.all(Array.from({ length: 10 }, () => t.db.raw("SHOW enable_sort")));
    expect(settings.map((r) => r.rows[0].enable_sort)).toEqual(Array(10).fill("on"));
  });

  it("lent batches: a reader done with each before asking for the next reads the same bytes, through a few buffers", async () => {
    let text = "";
    const buffers = new Set<ArrayBufferLike>();
    let batches = 0;
    for await (const b of copyOutValues(t.db, LINES, [], { lend: true })) {
      text += b.toString();
      buffers.add(b.buffer);
      batches++;
    }
    const lines = text.split("\n");
    expect(lines).toHaveLength(200_001);
    expect(lines[123_456]).toBe("line 123457");
    // Without lending each batch is a buffer of its own.
    expect(batches).toBeGreaterThan(2);
    expect(buffers.size).toBeLessThanOrEqual(5);
  });

  it("a reader that stops early cancels the query on the server and leaves its connection usable", async () => {
    const one = (await import("../db/connection.js")).connect(t.url, { max: 1 });
    try {
      const big = "SELECT repeat('x', 1000) || g FROM generate_series(1, 2000000) g";
      let got = 0;
      for await (const b of copyOutValues(one, big)) {
        got += b.length;
        break; // the consumer gives up after the first ~1 MB
      }
      expect(got).toBeGreaterThan(0);
      // The pool's only connection answers at once, and nothing of the COPY still runs.
      expect((await one.raw("SELECT 41 + 1 AS n")).rows[0].n).toBe(42);
      const running = await t.db.raw(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT repeat%' AND state = 'active'",
      );
      expect(running.rows[0].n).toBe(0);
    } finally {
      await one.destroy();
    }
  });

  it("a failing query fails the reader with PostgreSQL's error", async () => {
    const reading = async () => {
      for await (const _ of copyOutValues(t.db, "SELECT (1 / (g - 3))::text FROM generate_series(1, 5) g")) {
        // drain
      }
    };
    await expect(reading()).rejects.toThrow("division by zero");
    expect((await t.db.raw("SELECT 1 AS one")).rows[0].one).toBe(1);
  });

  it("skips the notices PostgreSQL sends between rows, keeping every value whole", async () => {
    await t.db.raw(`CREATE OR REPLACE FUNCTION copy_out_noisy(g int) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN
        IF g % 500 = 0 THEN RAISE NOTICE 'row %', g; END IF;
        RETURN repeat('y', g % 700) || g || E'\\n';
      END $$`);
    let text = "";
    for await (const b of copyOutValues(t.db, "SELECT copy_out_noisy(g) FROM generate_series(1, 5000) g ORDER BY g")) text += b.toString();
    const lines = text.split("\n").slice(0, -1);
    expect(lines).toHaveLength(5000);
    lines.forEach((line, i) => expect(line).toBe(`${"y".repeat((i + 1) % 700)}${i + 1}`));
    expect((await t.db.raw("SELECT 1 AS one")).rows[0].one).toBe(1);
  });
});
