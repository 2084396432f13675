import { z } from "zod";
import { hashHex } from "./hash.js";
import { ProviderError, type ProgressReport, type ProviderJobRef, type WorkUnitItem } from "./types.js";

/**
 * The simulator keeps no state: its job ref carries everything poll and collect need, so a worker
 * killed mid-batch can pick the job up from the persisted ref in a fresh process. Items finish one by
 * one over the turnaround, in an order fixed by the seed (not the submit order, which a caller that
 * reloads items from the database might not reproduce).
 */

const rates = z.object({
  permanent: z.number().min(0).max(1),
  content_policy: z.number().min(0).max(1),
  rate_limit: z.number().min(0).max(1),
  server_error: z.number().min(0).max(1),
  timeout: z.number().min(0).max(1),
});

export const simulatorJobRefSchema = z.looseObject({
  provider_job_id: z.string().startsWith("simbatch_"),
  simulator: z.literal(1),
  work_unit_id: z.string(),
  lane_id: z.string(),
  /** ms since the epoch. */
  submitted_at: z.number().int(),
  turnaround_ms: z.number().int().min(0),
  item_count: z.number().int().min(1),
  /** How many items fail (decided at submit); poll spreads them over the progress. */
  failed_count: z.number().int().min(0),
  seed: z.string().min(1),
  /** The lane's fault rates at submit, so a restarted worker with other settings still agrees. */
  faults: rates,
  /** Set by the caller (markCancelled) and persisted: items not finished by then come back cancelled. */
  cancelled_at: z.number().int().optional(),
});

export type SimulatorJobRef = z.infer<typeof simulatorJobRefSchema>;

/** Validates a persisted ref; a ref of another adapter or a corrupted one is a permanent error. */
export function parseSimulatorRef(ref: ProviderJobRef): SimulatorJobRef {
  const r = simulatorJobRefSchema.safeParse(ref);
  if (!r.success) {
    throw new ProviderError({
      code: "ref_mismatch",
      retryable: false,
      message: `not a simulator job ref: ${r.error.issues[0]?.message ?? "invalid"}`,
    });
  }
  return r.data;
}

/** How many of the job's items have finished `elapsedMs` after submit (item k finishes at ⌈T·(k+1)/n⌉). */
export function finishedCount(ref: SimulatorJobRef, elapsedMs: number): number {
  const n = ref.item_count;
  if (ref.turnaround_ms === 0) return n;
  const e = Math.floor(elapsedMs);
  if (e <= 0) return 0;
  return Math.min(n, Math.floor((e * n) / ref.turnaround_ms));
}

/** Whether the item at finish rank k (0-based) has finished `elapsedMs` after submit. */
export function isFinished(ref: SimulatorJobRef, rank: number, elapsedMs: number): boolean {
  return ref.turnaround_ms === 0 || (rank + 1) * ref.turnaround_ms <= Math.floor(elapsedMs) * ref.item_count;
}

/** ms after submit at which the item at finish rank k finishes: its simulated latency. */
export function finishOffsetMs(ref: SimulatorJobRef, rank: number): number {
  return Math.ceil((ref.turnaround_ms * (rank + 1)) / ref.item_count);
}

/** The items in finish order: sorted by a hash of (seed, item_id), whatever order they came in. */
export function finishOrder(seed: string, items: readonly WorkUnitItem[]): WorkUnitItem[] {
  const keyed = items.map((wi) => ({ wi, key: hashHex("order", seed, wi.item_id) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.wi.item_id < b.wi.item_id ? -1 : 1));
  return keyed.map((k) => k.wi);
}

/**
 * Progress at `now`. Counts are exact once the job is done; while it runs, the failed share is spread
 * evenly over the finished items (the ref doesn't list which items fail, to stay small). After a
 * cancellation the counts freeze at what had finished by then.
 */
export function progressAt(ref: SimulatorJobRef, now: number): ProgressReport {
  const n = ref.item_count;
  const doneAt = ref.submitted_at + ref.turnaround_ms;
  const cancelled = ref.cancelled_at !== undefined && ref.cancelled_at < doneAt && now >= ref.cancelled_at;
  const effective = cancelled ? (ref.cancelled_at as number) : now;
  const done = finishedCount(ref, effective - ref.submitted_at);
  const failed = Math.floor((done * ref.failed_count) / n);
  const counts = { total: n, completed: done - failed, failed };
  if (cancelled) return { status: "cancelled", counts };
  return { status: done >= n ? "completed" : "in_progress", counts };
}
