import type { Lane } from "../../server/catalog/types.js";
import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { anthropicHttp } from "./anthropic-http.js";
import { anthropicParams } from "./anthropic-requests.js";
import { fromAnthropicMessage } from "./normalized-output.js";
import { openAiHttp } from "./openai-http.js";
import { completedResult, failedResult } from "./item-results.js";
import { itemErrorOf, parseAnswer, requestBody, urlOf } from "./openai-requests.js";
import { takeToken } from "./rate-gate.js";
import { backoffMs, classifyError } from "./retry-policy.js";
import { ProviderError, type ItemResult, type ProviderAdapter, type ProviderJobRef, type WorkUnitItem } from "./types.js";

/**
 * Real-time lanes: one request per item to `/chat/completions`, `/responses`, `/embeddings` (or
 * Anthropic's `/v1/messages`), at most `maxConcurrency` at once and `requestsPerMinute` per
 * endpoint (a token bucket shared by every lane of it in this process). The lane of priority work,
 * of providers without a batch API, and of every custom endpoint. It fits the batch-shaped worker
 * loop: submit records nothing at the provider, poll is done at once, and collect makes the calls,
 * yielding each result as it lands so it is written and billed in chunks.
 */

/** Tries per item inside one collect, honouring Retry-After; after them the worker's retry and fallback take over. */
const TRIES = 3;
const MAX_WAIT_MS = 30_000;

export function realtimeAdapter(lane: Lane, endpoint: ProviderEndpoint, opts: { retryBaseMs?: number } = {}): ProviderAdapter {
  const call = endpoint.kind === "anthropic" ? anthropicCall(lane, endpoint) : openAiCall(lane, endpoint);
  const baseMs = opts.retryBaseMs ?? 500;

  async function one(item: WorkUnitItem): Promise<ItemResult> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      await takeToken(endpoint);
      try {
        return completedResult(item, await call(item), Date.now() - started);
      } catch (err) {
        const status = err instanceof ProviderError ? err.status : undefined;
        const body =
          err instanceof ProviderError ? { error: { code: err.code, message: err.message } } : { error: { message: String(err) } };
        const verdict = itemErrorOf(status, body);
        const retryable = verdict.retryable || (status === undefined && classifyError(err) === "retryable");
        if (retryable && attempt < TRIES) {
          const retryAfter = err instanceof ProviderError ? err.retryAfterMs : undefined;
          await sleep(Math.min(MAX_WAIT_MS, backoffMs(attempt, { baseMs, maxMs: MAX_WAIT_MS, retryAfterMs: retryAfter })));
          continue;
        }
        const error = status === undefined && retryable ? { code: "timeout" as const, message: verdict.error.message } : verdict.error;
        return failedResult(item, error, retryable);
      }
    }
  }

  return {
    execution: "live",
    async submit(req) {
      const ref: ProviderJobRef = { provider_job_id: `realtime:${req.work_unit_id}` };
      return ref;
    },
    async poll(_ref) {
      return { status: "completed", counts: { total: 0, completed: 0, failed: 0 } };
    },
    async *collect(_ref, req) {
      yield* pool(req.items, Math.max(1, endpoint.maxConcurrency), one);
    },
    // Each call is short and already under way; nothing to stop at the provider.
    async cancel() {},
    classify: classifyError,
  };
}

type Answer = { output: NonNullable<ItemResult["output"]>; usage: ItemResult["usage"] };

function openAiCall(lane: Lane, endpoint: ProviderEndpoint): (item: WorkUnitItem) => Promise<Answer> {
  const http = openAiHttp(endpoint);
  return async (item) => {
    const url = urlOf(item);
    let path = url.slice("/v1".length);
    // Azure's dated API serves chat and embeddings per deployment (named by the lane's model name);
    // its Responses API is not deployment-scoped.
    if (endpoint.kind === "azure-openai" && url !== "/v1/responses") path = `/deployments/${encodeURIComponent(lane.served_as)}${path}`;
    const body = await http.json("POST", path, requestBody(item, url, lane.served_as, endpoint));
    return parseAnswer(url, body, lane.model);
  };
}

function anthropicCall(lane: Lane, endpoint: ProviderEndpoint): (item: WorkUnitItem) => Promise<Answer> {
  const http = anthropicHttp(endpoint);
  return async (item) => fromAnthropicMessage(await http.json("POST", "/v1/messages", anthropicParams(item, lane)), lane.model);
}

/** Runs `work` over `items`, `limit` at a time, yielding each result as soon as it is ready. */
export async function* pool<T, R>(items: readonly T[], limit: number, work: (t: T) => Promise<R>): AsyncGenerator<R> {
  const done: R[] = [];
  let failure = null as { err: unknown } | null;
  let wake: (() => void) | null = null;
  let next = 0;
  let running = 0;
  const settle = () => {
    running--;
    wake?.();
  };
  const start = () => {
    while (running < limit && next < items.length && !failure) {
      const t = items[next++]!;
      running++;
      work(t).then(
        (r) => (done.push(r), settle()),
        (err: unknown) => ((failure ??= { err }), settle()),
      );
    }
  };
  start();
  while (running > 0 || done.length > 0) {
    if (done.length === 0 && running > 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    while (done.length > 0) yield done.shift()!;
    if (failure) throw failure.err;
    start();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
