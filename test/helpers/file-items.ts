import type { Db } from "../../db/connection.js";

export interface StoredItem {
  idx: number;
  line: number;
  /** The stored JSON text, parsed. */
  item: any;
  /** The stored JSON text itself. */
  text: string;
}

/** An upload's stored items, read straight from `file_item_chunks` (checking the chunks' own bookkeeping). */
export async function storedItems(db: Db, fileId: string): Promise<StoredItem[]> {
  const chunks: { seq: number; first_idx: number; lines: number[]; items: string }[] = await db("file_item_chunks")
    .where({ file_id: fileId })
    .orderBy("seq")
    .select("seq", "first_idx", "lines", "items");
  const out: StoredItem[] = [];
  chunks.forEach((c, seq) => {
    const texts = c.items.split("\n");
    if (c.seq !== seq || c.first_idx !== out.length || texts.length !== c.lines.length)
      throw new Error(`chunk ${c.seq} of ${fileId} is inconsistent`);
    texts.forEach((text, i) => out.push({ idx: c.first_idx + i, line: c.lines[i]!, item: JSON.parse(text), text }));
  });
  return out;
}

/** Items stored across every upload in the database. */
export async function countStoredItems(db: Db): Promise<number> {
  const r = await db.raw("select coalesce(sum(cardinality(lines)), 0)::int as n from file_item_chunks");
  return r.rows[0].n as number;
}
