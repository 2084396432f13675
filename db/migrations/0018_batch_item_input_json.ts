import type { Knex } from "knex";

/**
 * An item's request (`batch_items.item`) is stored as `json` too (0017 did it for outputs). It is
 * written once, at create, and read whole two or three times — when its work unit starts, when the
 * simulator or a real-time lane answers it, and on the compatible surfaces — while nothing but a
 * key or two (`metadata`, `input`, `model`) is ever read inside it, on result pages and files. As
 * jsonb every write parsed it into PostgreSQL's binary form and every read printed it back.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE batch_items ALTER COLUMN item TYPE json USING item::json");
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
