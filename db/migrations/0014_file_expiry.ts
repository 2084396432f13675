import type { Knex } from "knex";

/**
 * A file may expire (OpenAI's `expires_after` on files.create): from `expires_at` on it is gone for
 * every reader (404, out of lists), and housekeeping deletes its items and stored bytes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("files", (t) => {
    t.timestamp("expires_at", { useTz: true });
  });
  await knex.raw("CREATE INDEX files_expiring ON files (expires_at) WHERE expires_at IS NOT NULL AND deleted_at IS NULL");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
