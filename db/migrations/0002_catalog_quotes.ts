import type { Knex } from "knex";

/** The catalog as editable documents, per-lane observed statistics, and price-locked quotes. */
export async function up(knex: Knex): Promise<void> {
  // One row per seed file (providers, models, …): operators edit the JSON and the platform
  // validates it on load, so a bad edit fails with a path instead of skewing quotes.
  await knex.schema.createTable("catalog_documents", (t) => {
    t.text("name").primary();
    t.jsonb("doc").notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // What the learning loop has seen per lane; empty until work runs (the catalog's priors apply).
  await knex.schema.createTable("lane_stats", (t) => {
    t.text("lane_id").primary();
    t.bigInteger("items_succeeded").notNullable().defaultTo(0);
    t.bigInteger("items_failed").notNullable().defaultTo(0);
    t.bigInteger("retries").notNullable().defaultTo(0);
    t.double("turnaround_p50_s");
    t.integer("backlog_items").notNullable().defaultTo(0);
    t.boolean("healthy").notNullable().defaultTo(true);
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("quotes", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("kind").notNullable().checkIn(["items", "volume", "workflow"]);
    t.text("workflow_slug");
    t.timestamp("expires_at", { useTz: true }).notNullable();
    // sha256 over the canonical items; a batch created from this quote must match it.
    t.text("items_fingerprint");
    t.integer("item_count").notNullable();
    t.bigInteger("provider_subtotal_micros").notNullable();
    t.bigInteger("fee_micros").notNullable();
    t.bigInteger("discount_micros").notNullable();
    t.bigInteger("total_micros").notNullable();
    t.integer("fee_rate_bps").notNullable();
    t.jsonb("constraints").notNullable();
    // Locked unit prices of every selected lane and the item → lane plan the price was built on.
    t.jsonb("locked_lanes").notNullable();
    t.jsonb("plan").notNullable();
    t.jsonb("response").notNullable();
    t.text("batch_id");
    t.timestamp("accepted_at", { useTz: true });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["org_id", "environment", "id"]);
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
