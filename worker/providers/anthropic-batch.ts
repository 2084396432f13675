import type { Lane } from "../../server/catalog/types.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import {
  abandonIntents,
  cancelBatch,
  dropEarlier,
  earlierBatches,
  type Earlier,
  intentKey,
  partDigest,
  resultsAre,
} from "./anthropic-batch-adopt.js";
import { customIds, resultOf } from "./anthropic-batch-results.js";
import { failedResult } from "./item-results.js";
import { anthropicHttp, BATCHES, batchPath, type AnthropicHttp } from "./anthropic-http.js";
import { anthropicParams } from "./anthropic-requests.js";
import { streamLines } from "./openai-http.js";
import { classifyError } from "./retry-policy.js";
import {
  ProviderError,
  type ProgressReport,
  type ProgressStatus,
  type ProviderAdapter,
  type ProviderJobRef,
  type SubmitRequest,
  type WorkUnitItem,
} from "./types.js";

/**
 * Anthropic's Message Batches API. A work unit becomes one provider batch per slice that fits the
 * lane's `batch_limits`; each request carries a safe `custom_id` derived from our item id
 * (anthropic-batch-results.ts), the batches are polled, and their JSONL results are streamed and
 * joined to our items on that id (never on order: Anthropic returns them shuffled).
 */

/** One provider batch of a work unit: the slice `first .. first + count` of the unit's items. */
interface Part {
  batch_id: string;
  first: number;
  count: number;
  /** Found in the provider's list after a lost create (anthropic-batch-adopt.ts): its results must prove it ours. */
  provisional?: boolean;
}

interface AnthropicBatchRef extends ProviderJobRef {
  parts: Part[];
}

/** Anthropic's own per-batch limits (spec/providers.md), when the catalog gives none. */
const DEFAULT_LIMITS = { max_requests: 100_000, max_bytes: 256 * 1024 * 1024 };
/** `{"requests":[]}`: what the body weighs around its requests. */
const ENVELOPE_BYTES = 15;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * The unit's items, in order, cut into create bodies that fit the limits, measured on the request as
 * serialised. Lazy, so only one body's params are held at a time. An item too big on its own still
 * goes alone: the provider's refusal (413) then says so, rather than the item vanishing here.
 */
function* slices(req: SubmitRequest, ids: string[]): Generator<{ first: number; requests: Json[] }> {
  const limits = req.lane.batch_limits ?? DEFAULT_LIMITS;
  let cur = { first: 0, requests: [] as Json[], bytes: ENVELOPE_BYTES };
  for (const [i, it] of req.items.entries()) {
    const request = { custom_id: ids[i], params: anthropicParams(it, req.lane) };
    const bytes = Buffer.byteLength(JSON.stringify(request)) + 1; // + the comma between requests
    if (cur.requests.length > 0 && (cur.requests.length >= limits.max_requests || cur.bytes + bytes > limits.max_bytes)) {
      yield cur;
      cur = { first: i, requests: [], bytes: ENVELOPE_BYTES };
    }
    cur.requests.push(request);
    cur.bytes += bytes;
  }
  if (cur.requests.length > 0) yield cur;
}

/** The parts of a stored ref; anything else is not a ref of this adapter. */
function partsOf(ref: ProviderJobRef): Part[] {
  const parts = (ref as { parts?: unknown }).parts;
  const ok =
    Array.isArray(parts) &&
    parts.every((p) => isObj(p) && typeof p.batch_id === "string" && Number.isInteger(p.first) && Number.isInteger(p.count));
  if (!ok)
    throw new ProviderError({
      code: "ref_mismatch",
      retryable: false,
      message: `not an Anthropic batch job ref: ${String(ref.provider_job_id)}`,
    });
  return parts as Part[];
}

/** An HTTP error from the provider with this status (the http client turns every one into a ProviderError). */
const hasStatus = (err: unknown, ...statuses: number[]) =>
  err instanceof ProviderError && err.status !== undefined && statuses.includes(err.status);

export function anthropicBatchAdapter(
  lane: Lane,
  endpoint: ProviderEndpoint,
  http: AnthropicHttp = anthropicHttp(endpoint),
): ProviderAdapter {
  const retrieve = (id: string) => http.json<Json>("GET", batchPath(id));

  /**
   * Asks every part to stop, even when one refuses. A batch that already ended (400) or is gone (404)
   * has nothing left to stop; any other 4xx is ignored the same way — retrying can't change it; a
   * retryable error is rethrown so the cancel is tried again.
   */
  async function cancelParts(parts: Part[]): Promise<void> {
    let retry: unknown;
    for (const part of parts) {
      await cancelBatch(http, part.batch_id).catch((err: unknown) => {
        retry ??= err;
      });
    }
    if (retry !== undefined) throw retry;
  }

  return {
    execution: "live",

    async submit(req, signal) {
      const ids = customIds(req.items);
      const journal = req.journal;
      // Batches earlier submits of this unit left (a lost answer, a killed worker): see
      // anthropic-batch-adopt.ts. A first submit has none (intents are written after its items start).
      const earlier = journal && req.resubmit ? await earlierBatches(http, journal) : new Map<string, Earlier>();
      const parts: Part[] = [];
      const created: { part: Part; intent?: string }[] = [];
      try {
        for (const slice of slices(req, ids)) {
          if (signal?.aborted)
            throw new ProviderError({ code: "aborted", message: `${endpoint.slug}: submit of ${req.work_unit_id} aborted` });
          const n = slice.requests.length;
          const plan = { part: parts.length, item_count: n, items_digest: partDigest(ids.slice(slice.first, slice.first + n)) };
          const adopted = earlier.get(intentKey(plan));
          if (adopted) {
            earlier.delete(intentKey(plan));
            parts.push({ batch_id: adopted.batch_id, first: slice.first, count: n, ...(adopted.provisional ? { provisional: true } : {}) });
            continue;
          }
          // Durable before the provider sees the create, so a lost answer can still be found.
          const intent = journal ? await journal.intend(plan) : undefined;
          const batch = await http.json<Json>("POST", BATCHES, { requests: slice.requests });
          if (typeof batch.id !== "string" || !batch.id)
            throw new ProviderError({ code: "provider_error", message: `${endpoint.slug}: batch create answered no id` });
          const part = { batch_id: batch.id, first: slice.first, count: n };
          parts.push(part);
          created.push({ part, intent: intent?.id });
          if (intent) await journal?.created(intent.id, batch.id);
        }
      } catch (err) {
        // The caller submits the whole unit again after a failure, so batches this attempt created
        // would run (and be billed) twice: stop them first, best effort. Adopted ones keep their
        // unsettled intents, so the next submit weighs them again.
        await cancelParts(created.map((c) => c.part)).then(
          () => journal?.settle(created.flatMap((c) => (c.intent ? [c.intent] : []))),
          () => undefined,
        );
        throw err;
      }
      // Earlier batches that hold none of the parts now sent: ours by evidence are stopped.
      for (const e of earlier.values()) if (journal) await dropEarlier(http, journal, e).catch(() => undefined);
      const ref: AnthropicBatchRef = { provider_job_id: parts[0]?.batch_id ?? "", parts };
      return ref;
    },

    async poll(ref) {
      const counts = { total: 0, completed: 0, failed: 0 };
      let running = false;
      let expired = 0;
      let canceled = 0;
      for (const part of partsOf(ref)) {
        const b = await retrieve(part.batch_id);
        // Only `ended` has results; in_progress and canceling (and anything new) are still running.
        if (b.processing_status !== "ended") running = true;
        const rc = isObj(b.request_counts) ? b.request_counts : {};
        counts.total += part.count;
        counts.completed += count(rc.succeeded);
        counts.failed += count(rc.errored) + count(rc.expired) + count(rc.canceled);
        expired += count(rc.expired);
        canceled += count(rc.canceled);
      }
      // Ended: "expired" or "cancelled" when every request that never ran went that one way.
      const status: ProgressStatus = running
        ? "in_progress"
        : expired > 0 && canceled === 0
          ? "expired"
          : canceled > 0 && expired === 0
            ? "cancelled"
            : "completed";
      const report: ProgressReport = { status, counts };
      return report;
    },

    async *collect(ref, req) {
      const parts = partsOf(ref);
      if (
        parts.reduce((n, p) => n + p.count, 0) !== req.items.length ||
        parts.some((p) => p.first < 0 || p.first + p.count > req.items.length)
      ) {
        throw new ProviderError({
          code: "ref_mismatch",
          retryable: false,
          message: `ref ${String(ref.provider_job_id)} does not hold the ${req.items.length} items of work unit ${req.work_unit_id}`,
        });
      }
      const ids = customIds(req.items);
      for (const part of parts) {
        const pending = new Map<string, WorkUnitItem>();
        for (let i = part.first; i < part.first + part.count; i++) pending.set(ids[i], req.items[i]);
        let gone = false;
        try {
          const b = await retrieve(part.batch_id);
          // The results endpoint answers 400 until the batch ends, which would read as permanent.
          if (b.processing_status !== "ended") {
            throw new ProviderError({
              code: "results_not_ready",
              retryable: true,
              message: `${endpoint.slug}: batch ${part.batch_id} is still ${String(b.processing_status)}`,
            });
          }
          if (part.provisional && !(await resultsAre(http, part.batch_id, ids.slice(part.first, part.first + part.count)))) {
            // Not ours after all: another client's batch that looked like our lost one. Left alone;
            // the items go out again in a batch of their own.
            const message = `Batch ${part.batch_id} turned out not to hold this item; it is sent again.`;
            for (const it of pending.values()) yield failedResult(it, { code: "provider_error", message }, true);
            continue;
          }
          for await (const text of streamLines(await http.stream(`${batchPath(part.batch_id)}/results`))) {
            const r = resultOf(text, pending, lane.model);
            if (!r) continue; // malformed, unknown or repeated: its item, if any, is settled below
            pending.delete(r.id);
            yield r.result;
          }
        } catch (err) {
          // Deleted, or past the 29 days results are kept: they will never come, so run the items again.
          if (!hasStatus(err, 404)) throw err;
          gone = true;
        }
        const message = gone
          ? `The provider no longer has the results of batch ${part.batch_id}; the item is sent again.`
          : "The provider returned no usable result for this item; it is sent again.";
        for (const it of pending.values()) yield failedResult(it, { code: "provider_error", message }, true);
      }
    },

    async cancel(ref) {
      // A found batch not yet shown ours is not stopped: it may be another client's.
      await cancelParts(partsOf(ref).filter((p) => !p.provisional));
    },

    async abandonSubmits(req: SubmitRequest) {
      const journal = req.journal;
      if (journal) await abandonIntents(http, journal);
    },

    classify: classifyError,
  };
}
