import type { Knex } from "knex";

/**
 * How many times reading a work unit's provider job (its poll or its results) has failed: a
 * transient failure is retried with backoff (Retry-After honoured), and past a limit the unit's
 * open items move down the ladder instead of waiting for the stale-batch sweep.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("work_units", (t) => {
    t.integer("poll_failures").notNullable().defaultTo(0);
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
