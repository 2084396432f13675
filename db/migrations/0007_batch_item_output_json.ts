import type { Knex } from "knex";

/**
 * An item's output is stored as `json` (its text, checked but kept as written), not `jsonb`:
 * nothing queries inside it, writing it skips jsonb's conversion, and the output file is built from
 * the stored text as it is, without parsing and re-serialising 100,000 outputs.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE batch_items ALTER COLUMN output TYPE json USING output::json");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
