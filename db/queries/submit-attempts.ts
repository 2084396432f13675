import type { Db } from "../connection.js";

/**
 * Whether a work unit's items were already started by an earlier run of its submit — one that died
 * between starting them and recording the provider's job, so the provider may hold that job.
 */
export async function unitItemsStarted(db: Db, workUnitId: string): Promise<boolean> {
  const row = await db("batch_items").where({ work_unit_id: workUnitId, status: "processing" }).first(db.raw("1 AS one"));
  return Boolean(row);
}

/** One create a submit meant to send (migration 0016): the part, its request count and items, and when. */
export interface SubmitIntentRow {
  id: string;
  work_unit_id: string;
  part: number;
  item_count: number;
  items_digest: string;
  created_at: Date;
  provider_batch_id: string | null;
  /** The batch was found by searching, not named by the create: ours only once its results say so. */
  found: boolean;
  settled_at: Date | null;
}

/**
 * The intent log of one work unit's submits, bound to the unit, in the shape the Anthropic adapter
 * takes (worker/providers/anthropic-batch-adopt.ts `SubmitJournal`). Each call is its own statement,
 * committed before it returns: an intent must be durable before the provider sees its create.
 */
export function submitJournal(db: Db, workUnitId: string) {
  const intents = () => db<SubmitIntentRow>("submit_intents");
  return {
    async earlier(): Promise<SubmitIntentRow[]> {
      return intents().where({ work_unit_id: workUnitId }).whereNull("settled_at").orderBy("id");
    },
    async intend(part: { part: number; item_count: number; items_digest: string }): Promise<SubmitIntentRow> {
      const [row] = await intents()
        .insert({ work_unit_id: workUnitId, ...part })
        .returning("*");
      return row;
    },
    async created(intentId: string, batchId: string): Promise<void> {
      await intents().where({ id: intentId }).update({ provider_batch_id: batchId, found: false });
    },
    /** Takes a found batch for an intent; false when another intent already holds it (the unique index decides races). */
    async claim(intentId: string, batchId: string): Promise<boolean> {
      try {
        const n = await intents().where({ id: intentId }).update({ provider_batch_id: batchId, found: true });
        return n === 1;
      } catch (err) {
        if ((err as { code?: string }).code === "23505") return false;
        throw err;
      }
    },
    /** Which of these provider batches an intent of ours (any unit's) already holds. */
    async held(batchIds: readonly string[]): Promise<Set<string>> {
      if (batchIds.length === 0) return new Set();
      const rows = await intents().whereIn("provider_batch_id", batchIds).select("provider_batch_id");
      return new Set(rows.map((r) => r.provider_batch_id as string));
    },
    async settle(intentIds: readonly string[]): Promise<void> {
      if (intentIds.length > 0) await intents().whereIn("id", intentIds).whereNull("settled_at").update({ settled_at: db.fn.now() });
    },
  };
}

/** The unit recorded its provider job: none of its intents is looked for again (their batch ids stay, as claims). */
export async function settleUnitIntents(db: Db, workUnitId: string): Promise<void> {
  await db("submit_intents").where({ work_unit_id: workUnitId }).whereNull("settled_at").update({ settled_at: db.fn.now() });
}

/**
 * Intents no resubmit can match any more: settled a week ago, or made a month ago (Anthropic keeps
 * a batch 29 days). A resubmit only looks at batches created within minutes of its intent, so an
 * old claim protects nothing. Returns how many went.
 */
export async function purgeOldIntents(db: Db): Promise<number> {
  return db("submit_intents")
    .where("settled_at", "<", db.raw("now() - interval '7 days'"))
    .orWhere("created_at", "<", db.raw("now() - interval '30 days'"))
    .del();
}
