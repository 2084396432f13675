import { z } from "zod";
import type { Lane } from "../../server/catalog/types.js";
import { hashHex } from "./hash.js";
import { loadO200k } from "./o200k.js";
import { embeddingInputs, inputTexts, inputTokens } from "./item-text.js";
import { classifyError } from "./retry-policy.js";
import {
  entryForLane,
  itemFaultRates,
  randomFault,
  submitFault,
  triggeredFault,
  type FaultOutcome,
  type ItemFaultRates,
  type LaneFaults,
} from "./simulator-faults.js";
import { ungated, type SimulatorGate } from "./simulator-gate.js";
import { defaultEmbeddingDimensions, simulateEmbeddings, simulateText } from "./simulator-output.js";
import { finishOffsetMs, finishOrder, isFinished, parseSimulatorRef, progressAt, type SimulatorJobRef } from "./simulator-ref.js";
import {
  ProviderError,
  type ItemResult,
  type ProviderAdapter,
  type ProviderJobRef,
  type SubmitRequest,
  type WorkUnitItem,
} from "./types.js";

/**
 * The built-in provider: every test-mode key and every lane without credentials runs here. It
 * behaves like a batch API (submit, then the job progresses over a turnaround, then results come back
 * in no particular order) and is stateless and deterministic: poll and collect need only the ref and
 * the request, so a worker restarted mid-batch gets the very same results.
 */

export interface SimulatorConfig {
  /** How long a job takes from submit to completed; 0 completes at once. Default 2000. */
  turnaroundMs?: number;
  /** Per lane id or glob (`openai/*`), overriding turnaroundMs. */
  laneTurnaroundMs?: Record<string, number>;
  /** Per lane id or glob; see simulator-faults.ts for the rules. */
  faults?: Record<string, LaneFaults>;
  /** Mixed into every job seed, so two deployments don't share fault draws. */
  seed?: string;
  /** Clock in ms since the epoch; injectable so tests control time. */
  now?: () => number;
  /** Holds jobs of some lanes until the test releases them (tests only; see simulator-gate.ts). */
  hold?: SimulatorGate;
}

export const DEFAULT_TURNAROUND_MS = 2_000;
const DEFAULT_SEED = "batchrouter-simulator";

const laneFaultsSchema = z.strictObject({
  rate_limit: z.number().min(0).max(1).optional(),
  server_error: z.number().min(0).max(1).optional(),
  timeout: z.number().min(0).max(1).optional(),
  permanent: z.number().min(0).max(1).optional(),
  content_policy: z.number().min(0).max(1).optional(),
  submit_error: z.enum(["rate_limited", "server_error", "capacity"]).optional(),
  lane_down: z.boolean().optional(),
});

/** The serialisable part of SimulatorConfig, for server/config.ts to parse from the environment. */
export const simulatorSettingsSchema = z.strictObject({
  turnaroundMs: z.number().int().min(0).optional(),
  laneTurnaroundMs: z.record(z.string(), z.number().int().min(0)).optional(),
  faults: z.record(z.string(), laneFaultsSchema).optional(),
  seed: z.string().min(1).optional(),
});

const failedResult = (wi: WorkUnitItem, f: FaultOutcome, latency_ms: number): ItemResult => ({
  item_id: wi.item_id,
  customer_item_id: wi.customer_item_id,
  status: "failed",
  output: null,
  error: { code: f.code, message: f.message, ...(f.provider_status !== undefined ? { provider_status: f.provider_status } : {}) },
  retryable: f.retryable,
  // Providers don't bill requests they fail, so neither does the simulator.
  usage: { input_tokens: 0, output_tokens: 0 },
  latency_ms,
});

const invalid = (message: string): FaultOutcome => ({ code: "invalid_input", provider_status: 400, retryable: false, message });

/**
 * Why this attempt of the item fails, or undefined when it succeeds. Checks run in a fixed order:
 * what a provider would reject outright (wrong operation for the lane, impossible embedding width,
 * input over the context window), then magic triggers, then injected random faults.
 */
function failureOf(wi: WorkUnitItem, lane: Lane, seed: string, rates: ItemFaultRates): FaultOutcome | undefined {
  if (!lane.operations.includes(wi.operation)) return invalid(`lane ${lane.lane_id} does not serve ${wi.operation}`);
  if (wi.operation === "embeddings") {
    const native = defaultEmbeddingDimensions(wi.model);
    const asked = wi.item.input.dimensions;
    if (typeof asked === "number" && asked > native) return invalid(`dimensions ${asked} exceeds ${wi.model}'s ${native}`);
    if (embeddingInputs(wi.item).length === 0) return invalid("embeddings input must be a string or an array of strings");
  }
  const texts = inputTexts(wi.item, wi.operation);
  // Tokens never outnumber UTF-8 bytes, so only inputs with more bytes than the window get counted.
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
  if (lane.context_window > 0 && bytes > lane.context_window) {
    const tokens = inputTokens(wi.item, wi.operation);
    if (tokens > lane.context_window) {
      return {
        code: "context_length_exceeded",
        provider_status: 400,
        retryable: false,
        message: `input is ${tokens} tokens; ${lane.model}'s context window is ${lane.context_window}`,
      };
    }
  }
  return triggeredFault(texts, wi.attempt) ?? randomFault(rates, wi.customer_item_id, wi.attempt, seed);
}

function resultOf(wi: WorkUnitItem, lane: Lane, ref: SimulatorJobRef, latency_ms: number): ItemResult {
  const failure = failureOf(wi, lane, ref.seed, ref.faults);
  if (failure) return failedResult(wi, failure, latency_ms);
  const sim = wi.operation === "embeddings" ? simulateEmbeddings(wi) : simulateText(wi, lane, { seed: ref.seed });
  return {
    item_id: wi.item_id,
    customer_item_id: wi.customer_item_id,
    status: "completed",
    output: sim.output,
    error: null,
    retryable: false,
    usage: sim.usage,
    latency_ms,
  };
}

function checkRequest(req: SubmitRequest): void {
  const bad = (message: string) => new ProviderError({ code: "invalid_request", status: 400, retryable: false, message });
  if (req.items.length === 0) throw bad("a work unit needs at least one item");
  const ids = new Set<string>();
  for (const wi of req.items) {
    if (ids.has(wi.item_id)) throw bad(`item_id ${wi.item_id} appears twice in the work unit`);
    ids.add(wi.item_id);
    if (!Number.isInteger(wi.attempt) || wi.attempt < 1) throw bad(`item ${wi.item_id} has attempt ${wi.attempt}; attempts are 1-based`);
  }
}

/** Creates the simulator adapter; instances with the same settings are interchangeable. */
export function createSimulator(config: SimulatorConfig = {}): ProviderAdapter {
  const now = config.now ?? Date.now;
  const gate = config.hold;
  const view = gate ? (r: SimulatorJobRef) => gate.view(r) : ungated;
  const turnaroundFor = (laneId: string): number => {
    const t = entryForLane(config.laneTurnaroundMs, laneId) ?? config.turnaroundMs ?? DEFAULT_TURNAROUND_MS;
    return Number.isFinite(t) && t > 0 ? Math.round(t) : 0;
  };

  return {
    execution: "simulated",

    async submit(req: SubmitRequest, signal?: AbortSignal): Promise<ProviderJobRef> {
      if (signal?.aborted) throw new ProviderError({ code: "aborted", retryable: true, message: "submit aborted", cause: signal.reason });
      await loadO200k();
      const laneFaults = entryForLane(config.faults, req.lane.lane_id);
      const refused = submitFault(laneFaults, req.lane.lane_id);
      if (refused) throw refused;
      checkRequest(req);
      const seed = hashHex("seed", config.seed ?? DEFAULT_SEED, req.work_unit_id).slice(0, 32);
      const faults = itemFaultRates(laneFaults);
      const failed_count = req.items.filter((wi) => failureOf(wi, req.lane, seed, faults) !== undefined).length;
      const submitted_at = Math.floor(now());
      const ref: SimulatorJobRef = {
        provider_job_id: `simbatch_${hashHex("job", seed, submitted_at).slice(0, 24)}`,
        simulator: 1,
        work_unit_id: req.work_unit_id,
        lane_id: req.lane.lane_id,
        submitted_at,
        turnaround_ms: turnaroundFor(req.lane.lane_id),
        item_count: req.items.length,
        failed_count,
        seed,
        faults,
      };
      return ref;
    },

    async poll(ref: ProviderJobRef) {
      const r = parseSimulatorRef(ref);
      const job = view(r);
      if (job.state === "held") return { status: "in_progress", counts: { total: r.item_count, completed: 0, failed: 0 } };
      if (job.state === "cancelled_unstarted") return { status: "cancelled", counts: { total: r.item_count, completed: 0, failed: 0 } };
      return progressAt(job.ref, now());
    },

    // An async generator, so a refusal (wrong ref, not ready) surfaces on the first next() as it
    // will for the real adapters, which must fetch before they know.
    async *collect(ref: ProviderJobRef, req: SubmitRequest): AsyncIterable<ItemResult> {
      await loadO200k();
      const r = parseSimulatorRef(ref);
      // A real-time lane's collect after a crash mid-collect re-sends only the items not yet settled
      // (poll-work-unit.ts), so it may carry fewer items than were submitted — never more.
      const countFits = req.lane.protocol === "realtime" ? req.items.length <= r.item_count : req.items.length === r.item_count;
      if (r.work_unit_id !== req.work_unit_id || r.lane_id !== req.lane.lane_id || !countFits) {
        throw new ProviderError({
          code: "ref_mismatch",
          retryable: false,
          message: `ref ${r.provider_job_id} is not the job of work unit ${req.work_unit_id} on ${req.lane.lane_id} with ${req.items.length} items`,
        });
      }
      const job = view(r);
      const status = job.state === "running" ? progressAt(job.ref, now()).status : job.state === "held" ? "in_progress" : "cancelled";
      if (status === "in_progress") {
        throw new ProviderError({ code: "results_not_ready", retryable: true, message: `job ${r.provider_job_id} is still in progress` });
      }
      // A cancelled job returns what finished before the cancellation; the rest come back cancelled
      // (not retryable: the caller asked for it), so every item is still accounted for exactly once.
      const run = job.state === "running" ? job.ref : undefined;
      const cutoff = !run ? 0 : status === "cancelled" ? (run.cancelled_at as number) - run.submitted_at : run.turnaround_ms;
      for (const [rank, wi] of finishOrder(r.seed, req.items).entries()) {
        if (run && isFinished(run, rank, cutoff)) {
          yield resultOf(wi, req.lane, run, finishOffsetMs(run, rank));
        } else {
          yield failedResult(
            wi,
            { code: "cancelled", retryable: false, message: "cancelled before the provider ran it" },
            Math.max(0, cutoff),
          );
        }
      }
    },

    // Nothing to tell a server that doesn't exist: the caller records the cancellation in the ref
    // (markCancelled) and stops handing out the items; poll and collect then honour it.
    async cancel(ref: ProviderJobRef): Promise<void> {
      parseSimulatorRef(ref);
    },

    classify: classifyError,
  };
}
