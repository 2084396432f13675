import type { Knex } from "knex";

/**
 * The default delivery webhook and its signing secret, one per environment. They were columns of
 * `orgs`, shared by test and live: a test key could redirect live batch events (which carry
 * download links). An org's existing webhook is kept for both environments, so no receiver stops
 * getting events on upgrade; from here on each environment's is set on its own.
 *
 * `url` may be null: the row then only holds the secret that signs batches which name their own
 * `delivery.webhook_url` without a secret (created on demand, shown once).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("delivery_webhooks", (t) => {
    t.text("org_id").notNullable().references("orgs.id").onDelete("CASCADE");
    t.text("environment").notNullable().checkIn(["live", "test"]);
    t.text("url");
    t.text("secret_enc").notNullable(); // AES-256-GCM under the platform secret, never returned
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["org_id", "environment"]);
  });
  await knex.raw(`
    INSERT INTO delivery_webhooks (org_id, environment, url, secret_enc)
    SELECT o.id, e.environment, o.webhook_url, o.webhook_secret_enc
    FROM orgs o CROSS JOIN (VALUES ('live'), ('test')) AS e(environment)
    WHERE o.webhook_secret_enc IS NOT NULL`);
  await knex.schema.alterTable("orgs", (t) => {
    t.dropColumn("webhook_url");
    t.dropColumn("webhook_secret_enc");
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
