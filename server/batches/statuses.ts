import type { BatchStatus } from "../../db/queries/batches.js";

/**
 * The batch statuses that end a batch: nothing changes after them. Its own module, free of the
 * lifecycle's database code, because the MCP stdio command (which only talks HTTP) needs it too.
 */
export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set<BatchStatus>(["completed", "failed", "cancelled", "expired"]);

export const isTerminal = (status: string): boolean => TERMINAL_STATUSES.has(status as BatchStatus);

/**
 * Item counts by status, with the items a batch will never write — it was cancelled or expired
 * while `validating`, before its manifest's items existed — counted in its ending, so every
 * surface's counts add up to its size (and none shows them still `processing` once it has ended).
 */
export function withUnwrittenItems(status: string, total: number, counts: Record<string, number>): Record<string, number> {
  const ending = status === "cancelling" || status === "cancelled" ? "cancelled" : status === "expired" ? "expired" : null;
  if (!ending) return counts;
  const written = Object.values(counts).reduce((a, b) => a + b, 0);
  return written >= total ? counts : { ...counts, [ending]: (counts[ending] ?? 0) + total - written };
}
