import type { Knex } from "knex";

/** Customer feedback on batches, and the per-lane, per-workload quality it adds up to. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("feedback", (t) => {
    t.text("id").primary(); // fb_…
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("batch_id").notNullable().references("batches.id");
    t.double("score").notNullable(); // 0..1 (a 1..5 rating is mapped onto it)
    t.text("label"); // accepted | rejected
    t.jsonb("customer_item_ids");
    t.text("reason");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["batch_id"]);
  });

  // One row per (lane, workload): the learning loop's input. `workload` names the kind of work,
  // e.g. "responses:gpt-4o-mini", so similar future batches can read it.
  await knex.schema.createTable("lane_quality", (t) => {
    t.text("lane_id").notNullable();
    t.text("workload").notNullable();
    t.integer("feedback_count").notNullable().defaultTo(0);
    t.double("score_sum").notNullable().defaultTo(0);
    t.integer("items_rated").notNullable().defaultTo(0);
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["lane_id", "workload"]);
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
