import { laneMatches } from "./simulator-faults.js";
import type { SimulatorJobRef } from "./simulator-ref.js";

/**
 * A test's hand on the simulator: jobs submitted on the gated lanes before `release()` don't start
 * until it is called. A test can then act while work is certainly at the provider (cancel it, expire
 * it, kill the worker) instead of racing a turnaround on the wall clock. The gate lives in memory
 * only, never in a persisted ref, so it is for in-process tests; without one the simulator is unchanged.
 */
export class SimulatorGate {
  /** Lane ids or globs (`openai/*`) whose jobs are held; all lanes by default. */
  readonly lanes: readonly string[];
  #releasedAt: number | undefined;

  constructor(opts: { lanes?: readonly string[] } = {}) {
    this.lanes = opts.lanes ?? ["*"];
  }

  /**
   * Opens the gate: held jobs start their turnaround at `at` (ms since the epoch, on the simulator's
   * clock; now by default). Only the first call counts, so a test's cleanup can release again safely.
   */
  release(at: number = Date.now()): void {
    this.#releasedAt ??= Math.floor(at);
  }

  get released(): boolean {
    return this.#releasedAt !== undefined;
  }

  /** How a job looks through the gate; see GatedJob. */
  view(ref: SimulatorJobRef): GatedJob {
    if (!this.lanes.some((p) => laneMatches(p, ref.lane_id))) return { state: "running", ref };
    const releasedAt = this.#releasedAt;
    if (releasedAt === undefined) return { state: "held" };
    // Submitted after the release: never held.
    if (ref.submitted_at >= releasedAt) return { state: "running", ref };
    // Cancelled while held: no item ever ran. Checked apart from the shifted ref below because a
    // cancellation before the start would read as "everything done" for a zero turnaround.
    if (ref.cancelled_at !== undefined && ref.cancelled_at < releasedAt) return { state: "cancelled_unstarted" };
    return { state: "running", ref: { ...ref, submitted_at: releasedAt } };
  }
}

/**
 * `held`: reports in progress with nothing finished, and has no results yet. `cancelled_unstarted`:
 * cancelled before the gate opened, so every item comes back cancelled. `running`: progresses as
 * usual, from the ref given (a held job's start moved to the release).
 */
export type GatedJob = { state: "held" } | { state: "cancelled_unstarted" } | { state: "running"; ref: SimulatorJobRef };

/** No gate: every job runs as submitted. */
export const ungated = (ref: SimulatorJobRef): GatedJob => ({ state: "running", ref });
