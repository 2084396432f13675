import type { BatchRow } from "../../db/queries/batches.js";
import type { ItemTally } from "../../db/queries/batch-view.js";
import { OPEN_ITEM_STATUSES } from "../../db/queries/batch-items.js";
import { TERMINAL_STATUSES } from "./statuses.js";

/** How long a finished batch's read is reused; see FinishedBatchCache. */
export const FINISHED_BATCH_TTL_MS = 1000;
const MAX_ENTRIES = 5_000;

/** A finished batch's row and its presented object (presented once, reused). */
export interface FinishedBatch {
  row: BatchRow;
  batch: Readonly<Record<string, unknown>>;
}

interface Entry extends FinishedBatch {
  until: number;
}

/**
 * Reads of finished batches, kept in process for FINISHED_BATCH_TTL_MS. A batch is finished when its
 * status is terminal and no item is still open: its state, counts, lanes and totals can no longer
 * change (a cancelled batch whose items are still out at a provider is not finished — those items
 * may yet complete and be billed). What may still move is bookkeeping (`updated_at`), so the entry
 * lives a second, not forever. The point: clients that keep polling a batch after it ended (and
 * dashboards that show it) cost no query each. A batch still running is read from the database on
 * every poll. Entries are keyed by org and environment too, so another org's lookup can't hit them.
 */
export class FinishedBatchCache {
  private readonly entries = new Map<string, Entry>();

  get(orgId: string, environment: string, id: string, now = Date.now()): FinishedBatch | undefined {
    const key = `${orgId}/${environment}/${id}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until > now) return e;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps the read (and its presentation) if the batch is finished. */
  offer(row: BatchRow, tally: ItemTally, batch: Readonly<Record<string, unknown>>, now = Date.now()): void {
    if (!TERMINAL_STATUSES.has(row.status)) return;
    if (OPEN_ITEM_STATUSES.some((s) => (tally.counts[s] ?? 0) > 0)) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(`${row.org_id}/${row.environment}/${row.id}`, { row, batch, until: now + FINISHED_BATCH_TTL_MS });
  }
}
