import type { Knex } from "knex";

/**
 * Item outputs are stored as `json` (their text, checked) rather than `jsonb`. Nothing queries
 * inside an output: it is written once from the worker's JSON and read back whole — into a results
 * page, or pasted into an output-file line by PostgreSQL (db/queries/result-lines.ts). As jsonb
 * every write parsed it into PostgreSQL's binary form, every embedding float into a `numeric`, and
 * every file line printed those back: 300 embedding outputs (5 MB) took ~315 ms to write as jsonb
 * and ~200 ms as json, and reading them back as text costs a copy instead of a re-print. A json
 * output also keeps its keys in the order the worker wrote them (jsonb sorts them by length).
 *
 * Rewrites the table once. The type change resets the column's storage to the type's default, so
 * migration 0015's EXTERNAL (uncompressed) is set again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE batch_items ALTER COLUMN output TYPE json USING output::json");
  await knex.raw("ALTER TABLE batch_items ALTER COLUMN output SET STORAGE EXTERNAL");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
