import { describe, expect, it } from "vitest";
import { ValueBatcher } from "./copy-binary-values.js";

/** A binary COPY stream of one-column rows, as the server sends it. */
function copyStream(values: string[]): Buffer {
  const parts = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)];
  for (const v of values) {
    const bytes = Buffer.from(v);
    const head = Buffer.alloc(6);
    head.writeInt16BE(1, 0);
    head.writeInt32BE(bytes.length, 2);
    parts.push(head, bytes);
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

async function collect(chunks: Buffer[], batchBytes = 1024 * 1024): Promise<string> {
  const out: Buffer[] = [];
  const batcher = new ValueBatcher(batchBytes, (b) => out.push(b));
  for (const chunk of chunks) batcher.push(chunk);
  batcher.flush();
  return Buffer.concat(out).toString();
}

describe("ValueBatcher", () => {
  const values = ['{"a":1}\n', "", 'ünïcødé 😊 \\ "q"\n', "x".repeat(3000)];
  const whole = copyStream(values);

  it("yields every value's bytes in order, however the stream is cut", async () => {
    expect(await collect([whole])).toBe(values.join(""));
    for (const size of [1, 2, 5, 7, 19, 20, 64]) {
      const chunks = [];
      for (let at = 0; at < whole.length; at += size) chunks.push(whole.subarray(at, at + size));
      expect(await collect(chunks, 16)).toBe(values.join(""));
    }
  });

  it("refuses rows of more than one column and NULL values", async () => {
    const two = Buffer.concat([whole.subarray(0, 19), Buffer.from([0, 2]), whole.subarray(21)]);
    await expect(collect([two])).rejects.toThrow("expected 1 column");
    const nul = Buffer.concat([whole.subarray(0, 21), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0xff, 0xff])]);
    await expect(collect([nul])).rejects.toThrow("NULL");
  });

  it("fills a batch given back (recycle) again instead of a new one, but not one grown for a big value", async () => {
    // Batches of Buffer.poolSize have buffers of their own (smaller ones share Node's pool).
    const size = Buffer.poolSize;
    const values = ["a", "b", "c", "d", "e"].map((ch) => ch.repeat(ch === "c" ? 3 * size : size));
    const rows = values.map((v) => copyStream([v]).subarray(19, -2)); // one row each, after the file header
    const header = copyStream([]).subarray(0, 19);

    const kept: Buffer[] = [];
    const keeper = new ValueBatcher(size, (b) => kept.push(b));
    keeper.push(header);
    for (const r of rows) keeper.push(r);
    keeper.flush();
    expect(new Set(kept.map((b) => b.buffer)).size).toBe(5);

    const seen: string[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const lent: Buffer[] = [];
    const lender = new ValueBatcher(size, (b) => {
      seen.push(b.toString()); // read before the next push: the holder is done with it
      buffers.add(b.buffer);
      lent.push(b);
    });
    lender.push(header);
    for (const r of rows) {
      lender.push(r);
      for (const b of lent.splice(0)) lender.recycle(b);
    }
    lender.flush();
    expect(seen).toEqual(values);
    // The batches of `size` took turns on two buffers; the grown one was not taken back.
    expect(buffers.size).toBeLessThanOrEqual(3);
  });
});
