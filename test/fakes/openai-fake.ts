/**
 * A local fake of OpenAI's API (Files, Batch, and the real-time chat/responses/embeddings endpoints)
 * on 127.0.0.1, written from the public protocol (see /work/shared/spec/providers.md and the `openai`
 * SDK's types) and checked with the official SDK (openai-fake.test.ts), so adapter tests that run
 * against it exercise the real wire shapes:
 *
 *   const fake = await startOpenAiFake({ apiKey: "sk-test" });
 *   const client = new OpenAI({ apiKey: "sk-test", baseURL: `${fake.baseUrl}/v1`, maxRetries: 0 });
 *   ...
 *   await fake.close();
 *
 * Time drives the batch lifecycle (`turnaroundMs`); `hold()`/`release()` pin batches in in_progress;
 * `setFaults()` injects HTTP faults and batch-level failures (openai-fake-faults.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { answerRequest, REALTIME_ENDPOINTS } from "./openai-fake-bodies.js";
import { BatchEngine, type BatchRecord, type BatchWire } from "./openai-fake-batches.js";
import { FaultInjector, type CallKind, type FaultKind, type Faults } from "./openai-fake-faults.js";
import { FileStore, type StoredFile } from "./openai-fake-files.js";
import { HttpError, badRequest, errorBody, idMaker, readJsonObject, sendJson } from "./openai-fake-util.js";

export type { Faults, FaultKind } from "./openai-fake-faults.js";
export type { BatchRecord, BatchWire, BatchStatus } from "./openai-fake-batches.js";
export type { StoredFile, FileWire } from "./openai-fake-files.js";
export type { BatchErrorWire, BatchLine } from "./openai-fake-validate.js";

export interface OpenAiFakeOptions {
  /** The key every call must send as `Authorization: Bearer <apiKey>`. Default "sk-fake-openai"; "" takes no key. */
  apiKey?: string;
  /** Seeds fault draws, output shuffles and ids. Default 1. */
  seed?: number;
  /** Time from create to completed, split evenly over validating / in_progress / finalizing. Default 50. */
  turnaroundMs?: number;
  /** Start held: batches stay in_progress until release(). */
  hold?: boolean;
  /** Requests per batch input file (OpenAI: 50,000). Over it the batch fails with too_many_tasks. */
  maxLines?: number;
  /** Bytes per batch input file (OpenAI: 200 MB). Over it batches.create answers 400. */
  maxBytes?: number;
  /** Embedding inputs across an /v1/embeddings batch (OpenAI: 50,000). */
  maxEmbeddingInputs?: number;
  /** Per-model cap on input tokens across in-flight batches; default unlimited. */
  enqueuedTokenLimit?: number;
  /** Share of requests already done when a batch in progress is cancelled. Default 0.5. */
  cancelFinishedFraction?: number;
  faults?: Partial<Faults>;
}

export interface RequestLogEntry {
  method: string;
  /** Path without the query string, e.g. "/v1/batches/batch_…". */
  path: string;
  /** The raw query string ("" or "?after=…&limit=…"). */
  query: string;
  /** Request headers, lower-case names; `authorization` is always redacted. */
  headers: Record<string, string>;
  /** Date.now() when the request arrived. */
  at: number;
  /** The status answered (unset while in flight or when a timeout fault dropped the request). */
  status?: number;
  fault?: FaultKind | "lost_answer";
}

export interface OpenAiFake {
  /** "http://127.0.0.1:PORT", without /v1. */
  baseUrl: string;
  requests: RequestLogEntry[];
  /** Live stores, for assertions: files (inputs and outputs) and batches, by id. */
  state: { files: Map<string, StoredFile>; batches: Map<string, BatchRecord> };
  /** The faults in force (a copy). */
  readonly faults: Faults;
  setFaults(f: Partial<Faults>): void;
  /** Keep batches that reach the end of in_progress there until release(). */
  hold(): void;
  release(): void;
  setTurnaround(ms: number): void;
  close(): Promise<void>;
}

export async function startOpenAiFake(opts: OpenAiFakeOptions = {}): Promise<OpenAiFake> {
  const apiKey = opts.apiKey ?? "sk-fake-openai";
  const seed = opts.seed ?? 1;
  const ids = idMaker(seed);
  let turnaround = opts.turnaroundMs ?? 50;
  let held = opts.hold ?? false;
  const injector = new FaultInjector(seed, opts.faults);
  const files = new FileStore(ids);
  const engine = new BatchEngine({
    files,
    ids,
    seed,
    maxLines: opts.maxLines ?? 50_000,
    maxBytes: opts.maxBytes ?? 200 * 1024 * 1024,
    maxEmbeddingInputs: opts.maxEmbeddingInputs ?? 50_000,
    enqueuedTokenLimit: opts.enqueuedTokenLimit ?? Number.POSITIVE_INFINITY,
    cancelFinishedFraction: opts.cancelFinishedFraction ?? 0.5,
    turnaroundMs: () => turnaround,
    held: () => held,
    faults: () => injector.faults,
  });
  const requests: RequestLogEntry[] = [];

  /** Some clones spell statuses upper-case; the stored state stays as OpenAI spells it. */
  const view = (w: BatchWire) => (injector.faults.upperCaseStatuses ? { ...w, status: w.status.toUpperCase() } : w);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const requestedPath = url.pathname;
    // Azure OpenAI's dated API: {endpoint}/openai/{files|batches|deployments/{d}/…}?api-version=…,
    // authenticated by an `api-key` header. Served as the same API after checking those two.
    if (url.pathname.startsWith("/openai/")) {
      if (!url.searchParams.get("api-version")) {
        res
          .writeHead(404, { "content-type": "application/json" })
          .end(JSON.stringify({ error: { code: "404", message: "Resource not found" } }));
        return;
      }
      url.pathname = `/v1/${url.pathname.slice("/openai/".length).replace(/^deployments\/[^/]+\//, "")}`;
      if (typeof req.headers["api-key"] === "string") req.headers.authorization = `Bearer ${req.headers["api-key"]}`;
    }
    const entry: RequestLogEntry = {
      method: req.method ?? "GET",
      path: requestedPath,
      query: url.search,
      headers: redacted(req),
      at: Date.now(),
    };
    requests.push(entry);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    const requestId = ids("req_");
    handle(req, res, url, entry, requestId).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpError) return sendJson(res, e.status, e.body, { "x-request-id": requestId, ...e.headers });
      sendJson(res, 500, errorBody(`Fake internal error: ${(e as Error).message}`, "server_error"), { "x-request-id": requestId });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, entry: RequestLogEntry, requestId: string): Promise<void> {
    const method = req.method ?? "GET";
    const seg = url.pathname.split("/").filter(Boolean);
    // An empty apiKey plays a self-hosted server that takes no key (vLLM or Ollama without --api-key).
    if (apiKey !== "" && req.headers.authorization !== `Bearer ${apiKey}`) {
      req.resume();
      // Unlike OpenAI, the message never echoes any part of the key sent.
      const message = req.headers.authorization
        ? "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      throw new HttpError(401, errorBody(message, "invalid_request_error", null, req.headers.authorization ? "invalid_api_key" : null));
    }
    const route = match(method, seg);
    if (!route) {
      req.resume();
      throw new HttpError(404, errorBody(`Invalid URL (${method} ${url.pathname})`, "invalid_request_error", null, null));
    }
    const fault = injector.pick(route.kind);
    if (fault) {
      entry.fault = fault;
      req.resume();
      return injector.answer(fault, res, requestId);
    }
    const ok = (body: unknown) =>
      sendJson(res, 200, body, { "x-request-id": requestId, "openai-version": "2020-10-01", "openai-processing-ms": "1" });
    const id = safeDecode(seg[2] ?? "");
    switch (route.name) {
      case "files.create":
        return ok(await files.upload(req));
      case "files.list":
        return ok(files.list(url.searchParams));
      case "files.retrieve":
        return ok(files.get(id).wire);
      case "files.delete":
        return ok(files.delete(id));
      case "files.content": {
        const f = files.get(id);
        res.writeHead(200, { "content-type": "application/octet-stream", "x-request-id": requestId });
        // Chunked, without content-length: readers must stream, as with OpenAI's large files.
        Readable.from(chunks(f.content, 64 * 1024)).pipe(res);
        return;
      }
      case "batches.create": {
        const created = engine.create(await readJsonObject(req));
        if (injector.faults.loseBatchCreates > 0) {
          injector.faults.loseBatchCreates -= 1;
          entry.fault = "lost_answer";
          return void res.socket?.destroy();
        }
        return ok(view(created));
      }
      case "batches.list": {
        const page = engine.list(url.searchParams);
        return ok({ ...page, data: page.data.map(view) });
      }
      case "batches.retrieve":
        return ok(view(engine.get(id).wire));
      case "batches.cancel":
        req.resume();
        return ok(view(engine.cancel(id)));
      case "realtime": {
        const body = await readJsonObject(req);
        if (body.stream === true) throw badRequest("This fake does not stream; send stream: false.", "stream", "unsupported_value");
        const out = answerRequest(url.pathname, body, ids);
        // A request that produced no response (batch `error` line) surfaces as a gateway timeout.
        if (out.kind === "error") throw new HttpError(504, errorBody(out.message, "server_error", null, out.code));
        return sendJson(res, out.statusCode, out.body, {
          "x-request-id": requestId,
          "openai-version": "2020-10-01",
          "openai-processing-ms": "1",
        });
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    state: { files: files.files, batches: engine.batches },
    get faults() {
      return { ...injector.faults };
    },
    setFaults: (f) => injector.set(f),
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      engine.release();
    },
    setTurnaround: (ms) => {
      turnaround = ms;
    },
    close: async () => {
      engine.close();
      injector.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type RouteName =
  | "files.create"
  | "files.list"
  | "files.retrieve"
  | "files.delete"
  | "files.content"
  | "batches.create"
  | "batches.list"
  | "batches.retrieve"
  | "batches.cancel"
  | "realtime";

/** The route for a method and path segments (["v1", "files", id, "content"]), or null for a 404. */
function match(method: string, seg: string[]): { name: RouteName; kind: CallKind } | null {
  if (seg[0] !== "v1") return null;
  const [, res, id, action] = seg;
  const n = seg.length;
  if (res === "files") {
    if (n === 2)
      return method === "POST" ? { name: "files.create", kind: "files" } : method === "GET" ? { name: "files.list", kind: "files" } : null;
    if (n === 3 && method === "GET") return { name: "files.retrieve", kind: "files" };
    if (n === 3 && method === "DELETE") return { name: "files.delete", kind: "files" };
    if (n === 4 && method === "GET" && action === "content") return { name: "files.content", kind: "files" };
    return null;
  }
  if (res === "batches") {
    if (n === 2)
      return method === "POST"
        ? { name: "batches.create", kind: "batches" }
        : method === "GET"
          ? { name: "batches.list", kind: "batches" }
          : null;
    if (n === 3 && method === "GET" && id) return { name: "batches.retrieve", kind: "batches" };
    if (n === 4 && method === "POST" && action === "cancel") return { name: "batches.cancel", kind: "batches" };
    return null;
  }
  const path = `/${seg.join("/")}`;
  if (method === "POST" && (REALTIME_ENDPOINTS as readonly string[]).includes(path)) return { name: "realtime", kind: "realtime" };
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Header copy for the request log: the bearer key must never reach a log or an assertion message. */
function redacted(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k] = k === "authorization" ? "Bearer [redacted]" : Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}
