import type { Knex } from "knex";

/**
 * When a batch was deleted through a compatible surface (Anthropic's `DELETE …/messages/batches/{id}`):
 * from then on that surface answers 404 for it and leaves it out of its lists. The batch row stays —
 * its ledger entries, receipts and the native `GET /v1/batches/{id}` depend on it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("batches", (t) => {
    t.timestamp("compat_deleted_at", { useTz: true });
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
