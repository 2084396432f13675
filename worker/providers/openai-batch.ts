import type { Lane } from "../../server/catalog/types.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { adoptable, cancelUnitBatches, findUnitBatches, partTag } from "./openai-batch-adopt.js";
import { openAiHttp, streamLines, type OpenAiHttp } from "./openai-http.js";
import { completedResult, failedResult } from "./item-results.js";
import { itemErrorOf, parseAnswer, requestBody, urlOf, type OpenAiUrl } from "./openai-requests.js";
import { classifyError } from "./retry-policy.js";
import {
  ProviderError,
  type ItemResult,
  type ProgressReport,
  type ProgressStatus,
  type ProviderAdapter,
  type ProviderJobRef,
  type SubmitRequest,
  type WorkUnitItem,
} from "./types.js";

/**
 * OpenAI's Batch API — also Azure OpenAI, Groq, Together and DeepInfra, which speak it with their
 * own limits (the lane's `batch_limits`, from the catalog) and, for some, upper-case statuses. A
 * work unit becomes one provider batch per endpoint and per file-size slice: a JSONL file is
 * uploaded, a batch created, polled, and its output and error files streamed back and joined to our
 * items on `custom_id` (never on order). The provider's files are deleted once collected.
 */

/** One provider batch of a work unit: which slice of the unit's items (in grouped order) it holds. */
interface Part {
  batch_id: string;
  input_file_id: string;
  url: OpenAiUrl;
  first: number;
  count: number;
}

interface BatchRef extends ProviderJobRef {
  parts: Part[];
}

const DEFAULT_LIMITS = { max_requests: 50_000, max_bytes: 200 * 1024 * 1024 };
const RUNNING = new Set(["validating", "in_progress", "finalizing", "cancelling"]);

/** The items by endpoint, each group in the unit's order, groups in order of first appearance. */
function groupByUrl(items: readonly WorkUnitItem[]): Map<OpenAiUrl, WorkUnitItem[]> {
  const byUrl = new Map<OpenAiUrl, WorkUnitItem[]>();
  for (const it of items) {
    const url = urlOf(it);
    const list = byUrl.get(url) ?? [];
    list.push(it);
    byUrl.set(url, list);
  }
  return byUrl;
}

/** The unit's items grouped by endpoint (one endpoint per provider batch), then sliced by count and bytes. */
function plan(req: SubmitRequest, endpoint: ProviderEndpoint): { url: OpenAiUrl; lines: string[]; items: WorkUnitItem[] }[] {
  const limits = req.lane.batch_limits ?? DEFAULT_LIMITS;
  const byUrl = groupByUrl(req.items);
  const slices: { url: OpenAiUrl; lines: string[]; items: WorkUnitItem[] }[] = [];
  for (const [url, items] of byUrl) {
    let cur = { url, lines: [] as string[], items: [] as WorkUnitItem[], bytes: 0 };
    for (const it of items) {
      const line = `${JSON.stringify({ custom_id: it.item_id, method: "POST", url, body: requestBody(it, url, req.lane.served_as, endpoint) })}\n`;
      const bytes = Buffer.byteLength(line);
      if (cur.items.length > 0 && (cur.items.length >= limits.max_requests || cur.bytes + bytes > limits.max_bytes)) {
        slices.push(cur);
        cur = { url, lines: [], items: [], bytes: 0 };
      }
      cur.lines.push(line);
      cur.items.push(it);
      cur.bytes += bytes;
    }
    if (cur.items.length) slices.push(cur);
  }
  return slices;
}

/**
 * The lines as one JSONL Blob. A Blob of one part per line costs ~1 s to build and send for 10,000
 * lines (undici walks the parts one by one); joined into ~1 MB parts it costs tens of ms.
 */
export function jsonlBlob(lines: readonly string[]): Blob {
  const parts: string[] = [];
  let batch: string[] = [];
  let size = 0;
  for (const line of lines) {
    batch.push(line);
    size += line.length;
    if (size >= 1 << 20) {
      parts.push(batch.join(""));
      batch = [];
      size = 0;
    }
  }
  if (batch.length) parts.push(batch.join(""));
  return new Blob(parts, { type: "application/jsonl" });
}

const norm = (status: unknown) => String(status ?? "").toLowerCase();

/** A create that got no answer, or a 5xx, may have made the batch all the same. */
const createMayHaveHappened = (err: unknown) => {
  const status = err instanceof ProviderError ? err.status : undefined;
  return status === undefined || status >= 500;
};

export function openAiBatchAdapter(lane: Lane, endpoint: ProviderEndpoint, http: OpenAiHttp = openAiHttp(endpoint)): ProviderAdapter {
  const retrieve = (id: string) => http.json<Record<string, unknown>>("GET", `/batches/${encodeURIComponent(id)}`);
  return {
    execution: "live",

    async submit(req) {
      const parts: Part[] = [];
      let first = 0;
      let orphanFile: string | null = null;
      try {
        // A resubmit may find its earlier submit accepted without our knowing (openai-batch-adopt.ts).
        // A first submit doesn't look: the listing would be one more call that can fail every submit.
        const earlier = req.resubmit ? await findUnitBatches(http, req.work_unit_id) : new Map();
        for (const slice of plan(req, endpoint)) {
          const tag = partTag(
            req.work_unit_id,
            parts.length,
            slice.items.map((it) => it.item_id),
          );
          const adopted = adoptable(earlier, tag);
          if (adopted) {
            parts.push({ batch_id: adopted.id, input_file_id: adopted.input_file_id, url: slice.url, first, count: slice.items.length });
            first += slice.items.length;
            continue;
          }
          const file = await http.upload(`${req.work_unit_id}-${parts.length}.jsonl`, jsonlBlob(slice.lines));
          orphanFile = file.id;
          const batch = await http.json<{ id: string }>("POST", "/batches", {
            input_file_id: file.id,
            endpoint: slice.url,
            completion_window: "24h",
            metadata: tag,
          });
          orphanFile = null;
          parts.push({ batch_id: batch.id, input_file_id: file.id, url: slice.url, first, count: slice.items.length });
          first += slice.items.length;
        }
      } catch (err) {
        // The whole unit is submitted again after a failure: stop the parts already created (they
        // would run, and be paid for, twice) and delete their files. A file whose batch create failed
        // is deleted only when the provider clearly refused it (a 4xx): after no answer or a 5xx the
        // batch may exist, to be adopted by the next submit, and it still reads its file.
        for (const part of parts) {
          await http.json("POST", `/batches/${encodeURIComponent(part.batch_id)}/cancel`).catch(() => undefined);
          await http.json("DELETE", `/files/${encodeURIComponent(part.input_file_id)}`).catch(() => undefined);
        }
        if (orphanFile && !createMayHaveHappened(err))
          await http.json("DELETE", `/files/${encodeURIComponent(orphanFile)}`).catch(() => undefined);
        throw err;
      }
      const ref: BatchRef = { provider_job_id: parts[0]?.batch_id ?? "", parts };
      return ref;
    },

    async poll(ref) {
      const counts = { total: 0, completed: 0, failed: 0 };
      let running = false;
      const statuses: string[] = [];
      for (const part of (ref as BatchRef).parts) {
        const b = await retrieve(part.batch_id);
        const s = norm(b.status);
        statuses.push(s);
        if (RUNNING.has(s)) running = true;
        const rc = (b.request_counts ?? {}) as Record<string, number>;
        counts.total += rc.total ?? part.count;
        counts.completed += rc.completed ?? 0;
        counts.failed += rc.failed ?? 0;
      }
      const status: ProgressStatus = running
        ? "in_progress"
        : statuses.every((s) => s === "completed")
          ? "completed"
          : statuses.includes("expired")
            ? "expired"
            : statuses.includes("cancelled")
              ? "cancelled"
              : statuses.includes("completed")
                ? "completed"
                : "failed";
      const report: ProgressReport = { status, counts };
      return report;
    },

    async *collect(ref, req) {
      // The parts hold consecutive runs of the unit's items grouped by endpoint (submit's order), so
      // each part's items are found from its stored offsets — the upload is not rebuilt.
      const ordered = [...groupByUrl(req.items).values()].flat();
      for (const part of (ref as BatchRef).parts) {
        const items = ordered.slice(part.first, part.first + part.count);
        const byId = new Map(items.map((it) => [it.item_id, it]));
        const b = await retrieve(part.batch_id);
        const files = [b.output_file_id, b.error_file_id].filter((f): f is string => typeof f === "string" && f.length > 0);
        for (const fileId of files) {
          for await (const text of streamLines(await http.stream(`/files/${encodeURIComponent(fileId)}/content`))) {
            const r = resultOf(text, byId, part.url, lane);
            if (!r) continue; // a malformed line or an unknown or repeated custom_id: its item is settled below
            byId.delete(r.item_id);
            yield r;
          }
        }
        // Items with no line: what the batch's end says about them.
        const leftover = leftoverError(b);
        for (const it of byId.values()) yield failedResult(it, leftover.error, leftover.retryable);
      }
    },

    async release(ref) {
      for (const part of (ref as BatchRef).parts) {
        const b = await retrieve(part.batch_id).catch(() => ({}) as Record<string, unknown>);
        const files = [part.input_file_id, b.output_file_id, b.error_file_id].filter(
          (f): f is string => typeof f === "string" && f.length > 0,
        );
        for (const id of files) await http.json("DELETE", `/files/${encodeURIComponent(id)}`).catch(() => undefined);
      }
    },

    async cancel(ref) {
      for (const part of (ref as BatchRef).parts) {
        // A batch that already ended answers an error: nothing left to stop.
        await http.json("POST", `/batches/${encodeURIComponent(part.batch_id)}/cancel`).catch((err) => {
          if (classifyError(err) === "retryable") throw err;
        });
      }
    },

    async abandonSubmits(req) {
      await cancelUnitBatches(http, req.work_unit_id);
    },

    classify: classifyError,
  };
}

/** One output- or error-file line → the item's result; undefined for a line we can't use. */
function resultOf(text: string, byId: Map<string, WorkUnitItem>, url: OpenAiUrl, lane: Lane): ItemResult | undefined {
  let line: { custom_id?: unknown; response?: { status_code?: number; body?: unknown } | null; error?: unknown };
  try {
    line = JSON.parse(text);
  } catch {
    return undefined;
  }
  const item = typeof line.custom_id === "string" ? byId.get(line.custom_id) : undefined;
  if (!item) return undefined;
  const status = line.response?.status_code;
  if (line.response && status !== undefined && status >= 200 && status < 300) {
    try {
      return completedResult(item, parseAnswer(url, line.response.body, lane.model));
    } catch {
      return undefined;
    }
  }
  const { error, retryable } = itemErrorOf(status, line.response?.body ?? line.error);
  return failedResult(item, error, retryable);
}

/**
 * Why an item of a provider batch has no result line: an expired batch re-routes what it didn't
 * finish; a cancelled one cancels it; `token_limit_exceeded` means the lane is at capacity, so the
 * items wait or move down the ladder; any other failed batch refused our file (permanent); a
 * completed batch missing a line (a malformed file) is retried.
 */
function leftoverError(b: Record<string, unknown>): { error: NonNullable<ItemResult["error"]>; retryable: boolean } {
  const status = norm(b.status);
  const errs = (b.errors as { data?: { code?: string; message?: string }[] } | null)?.data ?? [];
  if (status === "expired")
    return { error: { code: "expired", message: "The provider batch expired before this item ran; it is sent again." }, retryable: true };
  if (status === "cancelled")
    return { error: { code: "cancelled", message: "The provider batch was cancelled before this item ran." }, retryable: false };
  if (status === "failed" && errs.some((e) => e.code === "token_limit_exceeded")) {
    return {
      error: {
        code: "rate_limited",
        message: "The lane is at capacity (the provider's enqueued-token limit); the item waits or moves down the ladder.",
      },
      retryable: true,
    };
  }
  if (status === "failed")
    return {
      error: { code: "invalid_input", message: `The provider refused the batch: ${errs[0]?.message ?? "no reason given"}` },
      retryable: false,
    };
  return {
    error: { code: "provider_error", message: "The provider returned no usable result for this item; it is sent again." },
    retryable: true,
  };
}
