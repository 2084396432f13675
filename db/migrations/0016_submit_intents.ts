import type { Knex } from "knex";

/**
 * What a submit meant to create at a provider, written before the create is sent. Anthropic's
 * Message Batches carry no metadata, so a create whose answer is lost (or whose worker dies before
 * recording it) leaves a batch we can't name; the intent — which unit, which part, how many
 * requests, which items, when — is what a resubmit matches the provider's batch list against
 * (worker/providers/anthropic-batch-adopt.ts). `provider_batch_id` is unique: a provider batch
 * belongs to at most one intent, so two units can never adopt the same batch.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("submit_intents", (t) => {
    t.bigIncrements("id");
    t.text("work_unit_id").notNullable().references("work_units.id").onDelete("CASCADE");
    t.integer("part").notNullable();
    t.integer("item_count").notNullable();
    t.text("items_digest").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The create's answer, or a batch found by searching (then `found`: ours only once its results say so).
    t.text("provider_batch_id").unique();
    t.boolean("found").notNullable().defaultTo(false);
    // Set once nothing is left to look for: the unit recorded its job, or gave the batch up.
    t.timestamp("settled_at", { useTz: true });
    t.index(["work_unit_id"]);
  });
}

export async function down(): Promise<void> {
  throw new Error("migrations are forward-only");
}
