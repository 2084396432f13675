import type { Knex } from "knex";

/**
 * A finished batch keeps its item tally (counts by status, and by lane) on its row, written when it
 * ends: its items never change again, and counting them was the whole cost of reading it — 0.8 s
 * for a million items, paid by the first poll that saw it `completed` in each API process (and again
 * after every restart), and by every page of `GET /v1/batches` for each large batch on it. Batches
 * that ended before this migration have none and are counted as before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE batches ADD COLUMN IF NOT EXISTS final_tally jsonb");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
