import type { Knex } from "knex";

/**
 * An upload's items are stored a batch per row (up to 1,000 items or ~8 MB): the items' JSON
 * texts joined by newlines, with their manifest line numbers. A row per item cost PostgreSQL a
 * primary-key insert and a foreign-key trigger per line — 10.5 s of a 1,000,000-line upload against
 * 3.5 s this way — and nothing ever reads an item alone: a file's items are always read whole, in
 * order (quotes and batch creation from `input_file_id`).
 *
 * `items` is stored uncompressed (STORAGE EXTERNAL): pglz costs more CPU on the upload than the
 * disk it saves is worth for files that are usually read once, soon after.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("file_item_chunks", (t) => {
    t.text("file_id").notNullable().references("files.id").onDelete("CASCADE");
    t.integer("seq").notNullable();
    t.integer("first_idx").notNullable(); // index of the chunk's first item in the file
    t.specificType("lines", "integer[]").notNullable(); // 1-based manifest line of each item
    t.text("items").notNullable(); // one JSON text per item, newline-separated (JSON text has no raw newline)
    // Also what makes COPY store each row as it arrives. With no volatile default PostgreSQL batches
    // rows for a multi-row insert, up to 1,000 rows or 64 kB — but a binary COPY doesn't count the
    // bytes, so it held a whole 1,000,000-line upload (1,000 rows) in the backend's memory (490 MB
    // measured) and only started writing at the end, adding ~2.5 s to the upload.
    t.timestamp("written_at", { useTz: true }).notNullable().defaultTo(knex.raw("clock_timestamp()"));
    t.primary(["file_id", "seq"]);
  });
  await knex.raw("ALTER TABLE file_item_chunks ALTER COLUMN items SET STORAGE EXTERNAL");
  // Existing uploads are cut as the parser cuts them: at most 1,000 items, and a new chunk at every
  // 8 MB of text (so no chunk nears PostgreSQL's 1 GB value limit, whatever the items' size).
  await knex.raw(`
    INSERT INTO file_item_chunks (file_id, seq, first_idx, lines, items)
    SELECT file_id, (row_number() OVER (PARTITION BY file_id ORDER BY min(idx)) - 1)::int, min(idx),
           array_agg(line ORDER BY idx), string_agg(item, E'\\n' ORDER BY idx)
      FROM (SELECT file_id, idx, line, item, idx / 1000 AS by_count,
                   sum(octet_length(item)) OVER (PARTITION BY file_id ORDER BY idx) / 8388608 AS by_size
              FROM file_items) AS f
     GROUP BY file_id, by_count, by_size`);
  await knex.schema.dropTable("file_items");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
