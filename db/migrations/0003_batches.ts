import type { Knex } from "knex";

/** Files and manifests, batches with their items and work units, route events, webhooks. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("files", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("purpose").notNullable(); // batch | batch_output | batch_errors | receipt
    t.text("filename").notNullable();
    t.bigInteger("bytes").notNullable();
    t.text("sha256").notNullable();
    t.integer("item_count");
    t.text("format"); // native | openai (manifests)
    t.text("storage_key").notNullable(); // where the raw bytes live in the artifact store
    t.text("batch_id");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("deleted_at", { useTz: true });
    t.index(["org_id", "environment", "id"]);
  });

  // The validated, normalised items of an uploaded manifest, written with COPY while it streams in.
  await knex.schema.createTable("file_items", (t) => {
    t.text("file_id").notNullable().references("files.id").onDelete("CASCADE");
    t.integer("idx").notNullable();
    t.integer("line").notNullable();
    t.jsonb("item").notNullable();
    t.primary(["file_id", "idx"]);
  });

  await knex.schema.alterTable("orgs", (t) => {
    t.text("webhook_url");
    t.text("webhook_secret_enc"); // AES-256-GCM under the platform secret, never returned
  });

  await knex.schema.createTable("batches", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("status").notNullable();
    t.text("quote_id");
    t.text("input_file_id");
    t.integer("item_count").notNullable();
    t.text("routing_mode").notNullable();
    t.text("sla_tier").notNullable();
    t.text("privacy_tier").notNullable();
    t.jsonb("allowed_regions").notNullable();
    t.jsonb("constraints").notNullable();
    t.integer("fee_rate_bps").notNullable();
    t.bigInteger("quoted_subtotal_micros").notNullable();
    t.bigInteger("quoted_fee_micros").notNullable();
    t.bigInteger("quoted_total_micros").notNullable();
    t.bigInteger("reserved_micros").notNullable();
    t.bigInteger("settled_provider_micros").notNullable().defaultTo(0);
    t.bigInteger("settled_fee_micros").notNullable().defaultTo(0);
    t.bigInteger("released_micros").notNullable().defaultTo(0);
    t.bigInteger("sla_fee_refund_micros").notNullable().defaultTo(0);
    t.jsonb("pricing_estimate").notNullable();
    t.jsonb("lanes_report").notNullable(); // every lane considered at routing, with reasons
    t.text("customer_explanation");
    t.text("webhook_url");
    t.text("webhook_secret_enc");
    t.jsonb("metadata").notNullable().defaultTo("{}");
    t.jsonb("error");
    t.jsonb("artifacts"); // {output|errors|receipt: {file_id, bytes, sha256}}
    t.timestamp("sla_deadline", { useTz: true }).notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    for (const c of ["dispatched_at", "completed_at", "cancelled_at", "failed_at", "expired_at", "settled_at", "last_progress_event_at"]) {
      t.timestamp(c, { useTz: true });
    }
    t.index(["org_id", "environment", "id"]);
    t.index(["org_id", "environment", "status", "id"]);
  });

  await knex.schema.createTable("work_units", (t) => {
    t.text("id").primary();
    t.text("batch_id").notNullable().references("batches.id");
    t.text("lane_id").notNullable();
    t.text("provider").notNullable();
    t.text("model").notNullable();
    t.integer("attempt").notNullable().defaultTo(1);
    t.text("status").notNullable(); // pending | submitted | collected | failed | cancelled
    t.jsonb("fallback_order").notNullable();
    t.bigInteger("input_per_mtok_micros").notNullable(); // the locked unit prices
    t.bigInteger("output_per_mtok_micros").notNullable();
    t.jsonb("provider_ref");
    t.text("execution").notNullable().defaultTo("simulated");
    t.integer("item_count").notNullable();
    t.integer("submit_failures").notNullable().defaultTo(0);
    t.jsonb("last_error");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("submitted_at", { useTz: true });
    t.timestamp("finished_at", { useTz: true });
    t.index(["batch_id"]);
  });

  await knex.schema.createTable("batch_items", (t) => {
    t.text("batch_id").notNullable().references("batches.id");
    t.integer("idx").notNullable();
    t.text("customer_item_id").notNullable();
    t.text("operation").notNullable();
    t.jsonb("models").notNullable();
    t.jsonb("item").notNullable();
    t.text("work_unit_id");
    t.text("lane_id");
    t.text("status").notNullable(); // queued | processing | completed | failed | cancelled | expired
    t.integer("attempts").notNullable().defaultTo(0);
    t.jsonb("output");
    t.jsonb("error");
    t.integer("input_tokens");
    t.integer("output_tokens");
    t.bigInteger("cost_micros"); // provider cost at the locked price
    t.bigInteger("fee_micros");
    t.boolean("settled").notNullable().defaultTo(false);
    t.timestamp("finished_at", { useTz: true });
    t.primary(["batch_id", "idx"]);
    t.index(["work_unit_id"]);
  });

  // The route receipt: every routing decision after the quote (fallbacks, retries, expiry).
  await knex.schema.createTable("route_events", (t) => {
    t.bigIncrements("id");
    t.text("batch_id").notNullable().references("batches.id");
    t.text("kind").notNullable(); // routed | dispatched | retry | fallback | lane_failed | cancelled | expired
    t.jsonb("details").notNullable();
    t.timestamp("at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["batch_id", "id"]);
  });

  await knex.schema.createTable("webhook_deliveries", (t) => {
    t.text("id").primary(); // the event id, evt_…
    t.text("batch_id").notNullable().references("batches.id");
    t.text("org_id").notNullable();
    t.text("type").notNullable();
    t.text("url").notNullable();
    t.text("body").notNullable(); // the exact bytes signed and sent
    t.text("status").notNullable(); // pending | delivered | failed
    t.integer("attempts").notNullable().defaultTo(0);
    t.jsonb("attempt_log").notNullable().defaultTo("[]"); // [{at, status_code?, error?, ms}]
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("delivered_at", { useTz: true });
    t.index(["batch_id", "created_at"]);
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
