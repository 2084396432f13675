import { hasOpenItems } from "../../db/queries/batch-items.js";
import { staleBatches, touchBatch } from "../../db/queries/batches.js";
import { workUnitsInStatus } from "../../db/queries/work-units.js";
import { BEFORE_DISPATCH, TERMINAL_LIST } from "../../server/batches/lifecycle.js";
import type { BatchWorkerDeps } from "../batch-context.js";

/** A batch untouched this long has its next steps sent again (they are idempotent). */
export const STALE_AFTER_SECONDS = 600;

/**
 * A pipeline step that failed more often than pg-boss retries it (or was lost with its worker)
 * would leave its batch waiting for ever. Every few minutes this re-sends the step each stale
 * batch needs next; a step already queued is deduplicated by the `short` queues, and a step that
 * finds nothing to do returns at once. Returns how many batches it touched.
 */
export async function reviveStaleBatches(deps: BatchWorkerDeps, staleAfterSeconds = STALE_AFTER_SECONDS): Promise<number> {
  const stale = await staleBatches(deps.db, TERMINAL_LIST, staleAfterSeconds, 500);
  for (const b of stale) {
    await deps.db.transaction(async (trx) => {
      // A large batch still validating: its prepare step writes everything after it.
      if (b.status === "validating") {
        await deps.jobs.send(trx, "prepare", { batch_id: b.id });
        await touchBatch(trx, b.id);
        return;
      }
      // Before dispatch has finished, its own step is the one to send: it sends the submits.
      if (BEFORE_DISPATCH.includes(b.status)) {
        await deps.jobs.send(trx, "dispatch", { batch_id: b.id });
        await touchBatch(trx, b.id);
        return;
      }
      if (b.status === "cancelling") await deps.jobs.send(trx, "cancel", { batch_id: b.id });
      for (const u of await workUnitsInStatus(trx, b.id, ["pending", "submitted"])) {
        await deps.jobs.send(trx, u.status === "pending" ? "submit" : "poll", { work_unit_id: u.id });
      }
      if (!(await hasOpenItems(trx, b.id))) await deps.jobs.send(trx, "finalize", { batch_id: b.id });
      // Mark it seen, so the next sweep waits another full period before sending again.
      await touchBatch(trx, b.id);
    });
  }
  if (stale.length) deps.logger.warn({ batches: stale.length }, "re-sent the next steps of stale batches");
  return stale.length;
}
