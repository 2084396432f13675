import type { Knex } from "knex";

/** Accounts, API keys, the credit ledger, idempotency records and rate-limit counters. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("orgs", (t) => {
    t.text("id").primary();
    t.text("name").notNullable();
    t.text("billing_email");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("users", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("email").notNullable();
    t.text("password_hash").notNullable();
    t.timestamp("email_verified_at", { useTz: true });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("CREATE UNIQUE INDEX users_email_lower ON users (lower(email))");

  await knex.schema.createTable("api_keys", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("name");
    t.text("prefix").notNullable();
    t.text("secret_hash").notNullable().unique();
    // After a rotation the old secret keeps working until previous_valid_until.
    t.text("previous_secret_hash").unique();
    t.timestamp("previous_valid_until", { useTz: true });
    t.specificType("scopes", "text[]").notNullable();
    t.timestamp("expires_at", { useTz: true });
    t.timestamp("revoked_at", { useTz: true });
    t.timestamp("last_used_at", { useTz: true });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["org_id", "created_at"]);
  });

  // Cached balances; the ledger is the truth and a test recomputes these from it.
  await knex.schema.createTable("balances", (t) => {
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.bigInteger("available_micros").notNullable().defaultTo(0);
    t.bigInteger("reserved_micros").notNullable().defaultTo(0);
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["org_id", "environment"]);
  });

  await knex.schema.createTable("ledger_entries", (t) => {
    t.text("id").primary();
    t.text("org_id").notNullable().references("orgs.id");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("kind")
      .notNullable()
      .checkIn(["topup", "promo_grant", "reservation", "reservation_release", "settlement", "sla_fee_refund", "refund", "adjustment"]);
    t.bigInteger("available_delta").notNullable();
    t.bigInteger("reserved_delta").notNullable().defaultTo(0);
    t.bigInteger("available_after").notNullable();
    t.bigInteger("reserved_after").notNullable();
    // The key that makes a retried or replayed posting a no-op (e.g. "settle:<item id>").
    t.text("posting_key").notNullable();
    t.text("batch_id");
    t.text("checkout_id");
    t.text("description");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["org_id", "environment", "posting_key"]);
    t.index(["org_id", "environment", "id"]);
  });
  await knex.raw("CREATE RULE ledger_no_update AS ON UPDATE TO ledger_entries DO INSTEAD NOTHING");
  await knex.raw("CREATE RULE ledger_no_delete AS ON DELETE TO ledger_entries DO INSTEAD NOTHING");

  await knex.schema.createTable("idempotency_keys", (t) => {
    t.text("scope").notNullable(); // "<org>:<environment>" or "ip:<address>" before sign-up
    t.text("key").notNullable();
    t.text("fingerprint").notNullable();
    t.text("state").notNullable().checkIn(["in_flight", "done"]);
    t.integer("response_status");
    t.text("response_body");
    t.jsonb("response_headers");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("locked_until", { useTz: true });
    t.primary(["scope", "key"]);
    t.index(["created_at"]);
  });

  // The table rate-limiter-flexible's RateLimiterPostgres expects (created here, not at run time).
  await knex.raw(`CREATE TABLE rate_limits (
    key varchar(255) PRIMARY KEY,
    points integer NOT NULL DEFAULT 0,
    expire bigint
  )`);
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
