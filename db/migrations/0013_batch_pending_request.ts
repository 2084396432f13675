import type { Knex } from "knex";

/**
 * A large batch (an `input_file_id`) is accepted as `validating` and prepared by its first job:
 * the create request's options the job needs (operation and model defaults, max_price, the volume
 * quote's id) wait here until it has run, then the column is cleared.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("batches", (t) => {
    t.jsonb("pending_request");
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
