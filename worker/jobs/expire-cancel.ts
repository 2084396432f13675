import * as batchesQ from "../../db/queries/batches.js";
import { TERMINAL_STATUSES } from "../../server/batches/schemas.js";
import { markCancelled } from "../providers/types.js";
import { adapterForUnit, finalizeIfDone, type BatchWorkerDeps } from "./batch-context.js";
import { finish } from "./finalize-batch.js";
import { writeArtifacts } from "./write-artifacts.js";

/**
 * The SLA deadline passed first: finished items stay (and stay billed), everything still open is
 * marked expired and released, and the service fee already charged is refunded.
 */
export async function expireBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  const batch = await batchesQ.getBatchById(deps.db, batchId);
  if (!batch || TERMINAL_STATUSES.has(batch.status)) return;
  if (batch.sla_deadline.getTime() > Date.now()) return; // an early delivery of the job: not yet
  const atProvider = await deps.db.transaction(async (trx) => {
    const locked = (await batchesQ.getBatchById(trx, batchId, true))!;
    if (TERMINAL_STATUSES.has(locked.status)) return [];
    const submitted = await trx("work_units").where({ batch_id: batchId, status: "submitted" });
    await trx("batch_items").where({ batch_id: batchId }).whereIn("status", ["queued", "processing", "retry"])
      .update({ status: "expired", error: JSON.stringify({ code: "expired", message: "The batch reached its SLA deadline before this item finished." }), finished_at: trx.fn.now() });
    await trx("work_units").where({ batch_id: batchId }).whereIn("status", ["pending", "submitted"]).update({ status: "cancelled", finished_at: trx.fn.now() });
    await batchesQ.addRouteEvent(trx, batchId, "expired", { sla_deadline: locked.sla_deadline.toISOString() });
    await batchesQ.updateBatch(trx, batchId, { status: "completing", error: { code: "expired", message: "The SLA deadline passed before every item finished; finished items are kept, the rest released and the service fee refunded." } });
    return submitted;
  });
  // Nobody collects those jobs any more: stop them at the provider rather than pay for them.
  for (const wu of atProvider) {
    const { adapter } = await adapterForUnit(deps, wu, batch.environment);
    await adapter.cancel(wu.provider_ref).catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "cancel at the provider failed after expiry"));
  }
  const artifacts = await writeArtifacts(deps, batch);
  await finish(deps, batchId, artifacts, "expired");
}

/**
 * After POST /cancel: work units already at a provider are cancelled there; what they finished
 * before that is still collected and billed, the rest comes back cancelled.
 */
export async function cancelBatchWork(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  const batch = await batchesQ.getBatchById(deps.db, batchId);
  if (!batch || batch.status !== "cancelling") return;
  const submitted = await deps.db("work_units").where({ batch_id: batchId, status: "submitted" });
  for (const wu of submitted) {
    const { adapter } = await adapterForUnit(deps, wu, batch.environment);
    await adapter.cancel(wu.provider_ref);
    await deps.db.transaction(async (trx) => {
      await batchesQ.updateWorkUnit(trx, wu.id, { provider_ref: markCancelled(wu.provider_ref, Date.now()) });
      await deps.jobs.send(trx, "poll", { work_unit_id: wu.id });
    });
  }
  await deps.db.transaction(async (trx) => finalizeIfDone(trx, deps, batchId));
}
