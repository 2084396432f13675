import type { Knex } from "knex";

/**
 * How batch items are stored, for the three writes each item gets (its row, its start at submit,
 * its result). Both settings apply to rows written from now on.
 *
 * - Outputs are stored uncompressed. An embedding's output is ~30 KB of float text, which the
 *   default pglz compresses to only ~2/3 of its size at ~15 MB/s of server CPU — the largest single
 *   cost of writing a million results (2.5 GB of outputs). 270 embedding outputs (8.9 MB): 600 ms
 *   to write compressed, 140 ms uncompressed, 1.5× the disk. (lz4 would be the middle way, but the
 *   embedded PostgreSQL is built without it.)
 * - Pages are filled half at insert, so an item's later versions fit on its own page: its updates
 *   are HOT (no new index entries; status and attempts are not indexed) and the dead version is
 *   pruned in place. 100,000 items started in units of 10,000: 0.9 s → 0.33 s; results 1.9 → 1.7 s;
 *   the table ends no larger, since the space is what the updates would have taken anyway.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE batch_items ALTER COLUMN output SET STORAGE EXTERNAL");
  await knex.raw("ALTER TABLE batch_items SET (fillfactor = 50)");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
