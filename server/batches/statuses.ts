import type { BatchStatus } from "../../db/queries/batches.js";

/**
 * The batch statuses that end a batch: nothing changes after them. Its own module, free of the
 * lifecycle's database code, because the MCP stdio command (which only talks HTTP) needs it too.
 */
export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set<BatchStatus>(["completed", "failed", "cancelled", "expired"]);

export const isTerminal = (status: string): boolean => TERMINAL_STATUSES.has(status as BatchStatus);
