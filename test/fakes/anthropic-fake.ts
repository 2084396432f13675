// A local fake of Anthropic's Messages and Message Batches API on 127.0.0.1, for the Anthropic batch
// adapter's tests. Written from the public protocol and checked with the official @anthropic-ai/sdk
// (`new Anthropic({ apiKey, baseURL: fake.baseUrl })`), so it cannot drift from what the SDK speaks.
// Body rules live in anthropic-fake-bodies.ts, the batch state machine in anthropic-fake-batches.ts.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  buildMessage,
  countInputTokens,
  envelope,
  type Json,
  KNOWN_VERSIONS,
  makeId,
  seededRandom,
  triggeredError,
  validateCreate,
  validateParams,
} from "./anthropic-fake-bodies.js";
import {
  type AnthropicFaults,
  type BatchRecord,
  type BatchRequest,
  BatchStore,
  type FakeOp,
  type FaultKind,
} from "./anthropic-fake-batches.js";
import { matchRoute, readBody, streamResults } from "./anthropic-fake-http.js";

export type { AnthropicFaults, BatchRecord, FakeOp, FaultKind, RequestCounts, ResultLine } from "./anthropic-fake-batches.js";
export { countInputTokens } from "./anthropic-fake-bodies.js";

export interface AnthropicFakeOptions {
  /** The one key the fake accepts, as `x-api-key` or `Authorization: Bearer` (SDK 1.x sends the latter). */
  apiKey?: string;
  /** How long a batch stays in_progress before it ends (default 50 ms). */
  turnaroundMs?: number;
  /** How long a batch stays `canceling` (default 20 ms). */
  cancelMs?: number;
  /** Requests per batch (default 100,000). */
  maxRequests?: number;
  /** Request body bytes (default 256 MiB); over it → 413 request_too_large. */
  maxBytes?: number;
  /** Seeds ids, result order and the fault draw (default 42). */
  seed?: number;
  /** When set, any other model is `not_found_error` (an errored result in a batch). */
  models?: string[];
  /** anthropic-version values accepted (default 2023-06-01 and 2026-10-21). */
  versions?: string[];
  /** Clock in ms (default Date.now); inject one to jump past 24 h expiry or 29 d archiving. */
  now?: () => number;
  /** The results stream is written in slices of this many bytes (default 16 KiB), not on line bounds. */
  resultsChunkBytes?: number;
  faults?: AnthropicFaults;
}

export interface FakeRequestLog {
  method: string;
  /** Path with query string. */
  path: string;
  /** As received, minus `x-api-key` and `authorization`. */
  headers: IncomingHttpHeaders;
  /** Date.now() (or the injected clock) at arrival. */
  at: number;
  /** Which credential header carried the key. */
  auth: "x-api-key" | "bearer" | "none";
  op?: FakeOp;
  status?: number;
  fault?: FaultKind | "lost_answer";
}

export interface AnthropicFake {
  /** `http://127.0.0.1:PORT`: the SDK's baseURL (it adds `/v1/...`). */
  baseUrl: string;
  apiKey: string;
  requests: FakeRequestLog[];
  /** Batches by id, brought up to date on read; deleted batches are gone. */
  readonly state: { batches: Map<string, BatchRecord> };
  /** Replaces the fault settings (not merged) and restarts the fault draw. */
  setFaults(f: AnthropicFaults): void;
  /** Keep batches in_progress (cancel and 24 h expiry still apply) until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

const STATUS_OF: Record<string, number> = {
  invalid_request_error: 400,
  not_found_error: 404,
  overloaded_error: 529,
  api_error: 500,
};

export async function startAnthropicFake(opts: AnthropicFakeOptions = {}): Promise<AnthropicFake> {
  const apiKey = opts.apiKey ?? "sk-ant-fake-test-key";
  const now = opts.now ?? Date.now;
  const seed = opts.seed ?? 42;
  const maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
  const maxRequests = opts.maxRequests ?? 100_000;
  const versions = opts.versions ?? KNOWN_VERSIONS;
  const chunkBytes = Math.max(1, opts.resultsChunkBytes ?? 16 * 1024);
  const rand = seededRandom(seed + 1);
  let faults: AnthropicFaults = opts.faults ?? {};
  let faultRand = seededRandom(faults.seed ?? seed);
  let injected = 0;
  let held = false;
  let baseUrl = "";
  const requests: FakeRequestLog[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const store = new BatchStore({
    now,
    turnaroundMs: opts.turnaroundMs ?? 50,
    cancelMs: opts.cancelMs ?? 20,
    seed,
    models: opts.models,
    held: () => held,
    faults: () => faults,
    baseUrl: () => baseUrl,
  });

  function pickFault(op: FakeOp): FaultKind | null {
    const rate = faults.rate ?? 0;
    if (rate <= 0 || (faults.ops && !faults.ops.includes(op))) return null;
    if (faults.count !== undefined && injected >= faults.count) return null;
    if (faultRand() >= rate) return null;
    injected++;
    const kinds: FaultKind[] = faults.kinds?.length ? faults.kinds : [429, 529];
    return kinds[Math.floor(faultRand() * kinds.length)];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const { "x-api-key": xKey, authorization, ...headers } = req.headers;
    const bearer = typeof authorization === "string" && /^Bearer /i.test(authorization) ? authorization.slice(7) : undefined;
    const entry: FakeRequestLog = {
      method: req.method ?? "GET",
      path: url.pathname + url.search,
      headers,
      at: now(),
      auth: xKey !== undefined ? "x-api-key" : bearer !== undefined ? "bearer" : "none",
    };
    requests.push(entry);
    const body = await readBody(req, maxBytes);
    const requestId = makeId("req_", rand);
    const reply = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
      entry.status = status;
      const text = JSON.stringify(payload);
      res.writeHead(status, {
        "content-type": "application/json",
        "request-id": requestId,
        "content-length": Buffer.byteLength(text),
        ...extra,
      });
      res.end(text);
    };
    const fail = (status: number, type: string, message: string, extra?: Record<string, string>) =>
      reply(status, envelope(type, message, requestId), extra);

    // The key is compared, never echoed or logged. A request carrying both headers needs both right.
    if (xKey === undefined && bearer === undefined) return fail(401, "authentication_error", "x-api-key header is required");
    if ((xKey !== undefined && xKey !== apiKey) || (bearer !== undefined && bearer !== apiKey)) {
      return fail(401, "authentication_error", "invalid x-api-key");
    }
    const version = req.headers["anthropic-version"];
    if (typeof version !== "string" || version === "") return fail(400, "invalid_request_error", "anthropic-version: header is required");
    if (!versions.includes(version)) return fail(400, "invalid_request_error", `anthropic-version: '${version}' is not a valid version`);
    const route = matchRoute(req.method ?? "GET", url.pathname);
    if (!route) return fail(404, "not_found_error", "Not Found");
    entry.op = route.op;

    const fault = pickFault(route.op);
    if (fault !== null) {
      entry.fault = fault;
      if (fault === "timeout") {
        // Say nothing, then drop the connection: what a client sees when a proxy or the network stalls.
        const t = setTimeout(() => {
          timers.delete(t);
          req.socket.destroy();
        }, faults.timeoutMs ?? 5000);
        timers.add(t);
        return;
      }
      if (fault === 429) {
        const after = faults.retryAfterSeconds ?? 1;
        return fail(429, "rate_limit_error", "Number of requests has exceeded your per-minute rate limit", {
          "retry-after": String(after),
          "anthropic-ratelimit-requests-limit": "50",
          "anthropic-ratelimit-requests-remaining": "0",
          "anthropic-ratelimit-requests-reset": new Date(now() + after * 1000).toISOString(),
        });
      }
      if (fault === 529) return fail(529, "overloaded_error", "Overloaded");
      return fail(500, "api_error", "Internal server error");
    }
    if (body.tooLarge) return fail(413, "request_too_large", `Request exceeds the maximum allowed number of bytes (${maxBytes})`);

    let json: unknown;
    if (route.op === "messages" || route.op === "count_tokens" || route.op === "create") {
      try {
        json = JSON.parse(body.text);
      } catch {
        return fail(400, "invalid_request_error", "There was an issue with the formatting of your request body: invalid JSON");
      }
    }
    store.refreshAll();

    switch (route.op) {
      case "messages": {
        const invalid = validateParams(json, { version, models: opts.models });
        if (invalid) return fail(STATUS_OF[invalid.type] ?? 400, invalid.type, invalid.message);
        const p = json as Json;
        if (p.stream === true) return fail(400, "invalid_request_error", "stream: the fake serves non-streaming Messages only");
        const triggered = triggeredError(p);
        if (triggered) return fail(STATUS_OF[triggered.type] ?? 500, triggered.type, triggered.message);
        return reply(200, buildMessage(p, "standard", rand));
      }
      case "count_tokens": {
        const err = validateParams(json, { version, models: opts.models, countOnly: true });
        if (err) return fail(STATUS_OF[err.type] ?? 400, err.type, err.message);
        return reply(200, { input_tokens: countInputTokens(json as Json) });
      }
      case "create": {
        const err = validateCreate(json, maxRequests);
        if (err) return fail(400, err.type, err.message);
        const reqs = ((json as Json).requests as BatchRequest[]).map((r) => ({ custom_id: r.custom_id, params: r.params }));
        const created = store.create(reqs, version);
        if (faults.loseCreates) {
          faults.loseCreates -= 1;
          entry.fault = "lost_answer";
          return void req.socket.destroy();
        }
        return reply(200, store.view(created));
      }
      case "list": {
        const page = store.list(url.searchParams);
        return "type" in page ? fail(400, page.type, page.message) : reply(200, page);
      }
    }

    const b = store.batches.get(route.id ?? "");
    if (!b) return fail(404, "not_found_error", `Message batch not found: ${route.id}`);
    switch (route.op) {
      case "retrieve":
        return reply(200, store.view(b));
      case "cancel":
        if (b.status === "ended")
          return fail(400, "invalid_request_error", `Message batch ${b.id} has already ended and cannot be canceled`);
        if (b.status === "in_progress") store.cancel(b);
        return reply(200, store.view(b));
      case "delete":
        if (b.status !== "ended") return fail(400, "invalid_request_error", `Message batch ${b.id} is still processing; cancel it first`);
        store.remove(b);
        return reply(200, { id: b.id, type: "message_batch_deleted" });
      case "results":
        if (b.status !== "ended" || !b.results) return fail(400, "invalid_request_error", `Message batch ${b.id} has not ended yet`);
        if (b.archivedMs !== null) return fail(404, "not_found_error", `The results of message batch ${b.id} have been archived`);
        entry.status = 200;
        return streamResults(res, b, requestId, faults.malformedResults === true, chunkBytes);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const text = JSON.stringify(envelope("api_error", `fake failure: ${err instanceof Error ? err.message : String(err)}`, null));
      res.writeHead(500, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    apiKey,
    requests,
    get state() {
      store.refreshAll();
      return { batches: store.batches };
    },
    setFaults(f: AnthropicFaults) {
      faults = f;
      faultRand = seededRandom(f.seed ?? seed);
      injected = 0;
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
