import { getBatchById } from "../../db/queries/batches.js";
import { expireOpenWork, finish, TERMINAL_STATUSES } from "../../server/batches/lifecycle.js";
import type { ProviderJobRef } from "../providers/types.js";
import { writeArtifacts } from "../../server/batches/artifacts.js";
import { adapterForUnit, type BatchWorkerDeps } from "../batch-context.js";

/**
 * `batch.expire`, at the SLA deadline: the domain expires what is still open (lifecycle.ts); the
 * units that were at a provider are stopped there rather than paid for, and the batch ends
 * `expired` with its files and the fee refund.
 */
export async function expireBatch(deps: BatchWorkerDeps, batchId: string): Promise<void> {
  const batch = await getBatchById(deps.db, batchId);
  if (!batch || TERMINAL_STATUSES.has(batch.status)) return;
  if (batch.sla_deadline.getTime() > Date.now()) return; // an early delivery of the job: not yet
  const atProvider = await deps.db.transaction((trx) => expireOpenWork(trx, batchId));
  for (const wu of atProvider) {
    const { adapter } = await adapterForUnit(deps, wu, batch.environment);
    await adapter
      .cancel(wu.provider_ref as ProviderJobRef)
      .catch((err) => deps.logger.warn({ err, work_unit_id: wu.id }, "cancel at the provider failed after expiry"));
  }
  const artifacts = await writeArtifacts(deps, batch);
  await finish(deps, batchId, artifacts, "expired");
}
