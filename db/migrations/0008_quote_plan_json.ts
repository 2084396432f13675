import type { Knex } from "knex";

/**
 * A quote's plan (every item's lane: 50,000 indexes for a 50,000-item quote) is stored as `json`,
 * its text, rather than `jsonb`: nothing queries inside it and it is always read whole, and jsonb's
 * conversion of a large array was a tenth of a 50,000-item quote's time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE quotes ALTER COLUMN plan TYPE json USING plan::json");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
