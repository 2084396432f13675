import { getBatchById } from "../../db/queries/batches.js";
import { updateWorkUnit, workUnitsInStatus } from "../../db/queries/work-units.js";
import { finalizeIfDone } from "../../server/batches/lifecycle.js";
import { markCancelled, type ProviderJobRef } from "../providers/types.js";
import { adapterForUnit, type BatchWorkerDeps } from "../batch-context.js";

/**
 * `batch.cancel`, after POST /cancel (lifecycle.ts `requestCancel` already closed what never left):
 * work units at a provider are cancelled there; what they finished before that is still collected
 * and billed by their poll, the rest comes back cancelled.
 */
export async function cancelBatchWork(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  const batch = await getBatchById(deps.db, batchId);
  if (batch?.status !== "cancelling") return;
  for (const wu of await workUnitsInStatus(deps.db, batchId, ["submitted"])) {
    const { adapter } = await adapterForUnit(deps, wu, batch.environment);
    await adapter.cancel(wu.provider_ref as ProviderJobRef);
    await deps.db.transaction(async (trx) => {
      await updateWorkUnit(trx, wu.id, { provider_ref: markCancelled(wu.provider_ref as ProviderJobRef, Date.now()) });
      await deps.jobs.send(trx, "poll", { work_unit_id: wu.id });
    });
  }
  await deps.db.transaction(async (trx) => finalizeIfDone(trx, deps.jobs, batchId));
}
