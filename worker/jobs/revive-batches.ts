import { TERMINAL_STATUSES } from "../../server/batches/schemas.js";
import { OPEN_ITEM_STATUSES, type BatchWorkerDeps } from "./batch-context.js";

/** A batch untouched this long has its next steps sent again (they are idempotent). */
export const STALE_AFTER_SECONDS = 600;

/**
 * A pipeline step that failed more often than pg-boss retries it (or was lost with its worker)
 * would leave its batch waiting for ever. Every few minutes this re-sends the step each stale
 * batch needs next; a step already queued is deduplicated by the `short` queues, and a step that
 * finds nothing to do returns at once. Returns how many batches it touched.
 */
export async function reviveStaleBatches(deps: BatchWorkerDeps, staleAfterSeconds = STALE_AFTER_SECONDS): Promise<number> {
  const stale = await deps.db("batches")
    .whereNotIn("status", [...TERMINAL_STATUSES])
    .andWhere("updated_at", "<", deps.db.raw("now() - make_interval(secs => ?)", [staleAfterSeconds]))
    .orderBy("updated_at")
    .limit(500)
    .select("id", "status");
  for (const b of stale as { id: string; status: string }[]) {
    await deps.db.transaction(async (trx) => {
      // Before dispatch has finished, its own step is the one to send: it sends the submits.
      if (["pending", "queued", "routing"].includes(b.status)) {
        await deps.jobs.send(trx, "dispatch", { batch_id: b.id });
        await trx("batches").where({ id: b.id }).update({ updated_at: trx.fn.now() });
        return;
      }
      if (b.status === "cancelling") await deps.jobs.send(trx, "cancel", { batch_id: b.id });
      const units = await trx("work_units").where({ batch_id: b.id }).whereIn("status", ["pending", "submitted"]).select("id", "status");
      for (const u of units as { id: string; status: string }[]) {
        await deps.jobs.send(trx, u.status === "pending" ? "submit" : "poll", { work_unit_id: u.id });
      }
      const open = await trx("batch_items").where({ batch_id: b.id }).whereIn("status", OPEN_ITEM_STATUSES).first(trx.raw("1 AS one"));
      if (!open) await deps.jobs.send(trx, "finalize", { batch_id: b.id });
      // Mark it seen, so the next sweep waits another full period before sending again.
      await trx("batches").where({ id: b.id }).update({ updated_at: trx.fn.now() });
    });
  }
  if (stale.length) deps.logger.warn({ batches: stale.length }, "re-sent the next steps of stale batches");
  return stale.length;
}
