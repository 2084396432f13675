import type { Knex } from "knex";

/**
 * The tokens a batch was priced on (the quote's estimate, or the one made at create), kept beside
 * what the providers report, so the billing receipt can show the estimate against the actual usage.
 * Null for batches created before this column.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("batches", (t) => {
    t.bigInteger("estimated_input_tokens");
    t.bigInteger("estimated_output_tokens");
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
