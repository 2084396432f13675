import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { environmentOfKey, PlatformError, type ErrorCode, type Json, type KeyEnvironment, type Platform } from "./platform.js";

const USER_AGENT = "batchrouter-mcp/0.1";

interface RequestOptions {
  query?: Json;
  body?: unknown;
  headers?: Record<string, string>;
  /** false for public endpoints (catalog, sign-up), which work before there is a key. */
  auth?: boolean;
}

/**
 * The platform over its public HTTP API, as any client reaches it: what the stdio command uses on
 * the agent's machine. The key can change mid-session (sign-up hands over the test key).
 */
export class HttpPlatform implements Platform {
  readonly transport = "stdio" as const;
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private key: string | undefined,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  keyEnvironment(): KeyEnvironment | null {
    return this.key ? environmentOfKey(this.key) : null;
  }

  async registerAndUseTestKey(body: Json) {
    const reg = await this.json("POST", "/v1/auth/agent-register", { body, auth: false });
    this.key = reg.body.test_api_key as string;
    return reg.body;
  }

  getAccount = async () => (await this.json("GET", "/v1/auth/account")).body;
  listModels = async (query: Json) => (await this.json("GET", "/v1/catalog/models", { query, auth: false })).body;
  listWorkflowProducts = async () => (await this.json("GET", "/v1/catalog/workflow-products", { auth: false })).body;
  quote = async (body: Json) => (await this.json("POST", "/v1/quotes/model", { body })).body;
  getBatch = async (id: string) => (await this.json("GET", `/v1/batches/${enc(id)}`)).body;
  listBatches = async (query: Json) => (await this.json("GET", "/v1/batches", { query })).body;
  results = async (id: string, query: Json) => (await this.json("GET", `/v1/batches/${enc(id)}/results`, { query })).body;
  artifactUrl = async (id: string, kind: string) =>
    (await this.json("GET", `/v1/batches/${enc(id)}/artifact-url`, { query: { kind } })).body;
  cancelBatch = async (id: string) => (await this.json("POST", `/v1/batches/${enc(id)}/cancel`)).body;
  createBatch = (body: Json, key: string) => this.json("POST", "/v1/batches", { body, headers: { "Idempotency-Key": key } });
  sendFeedback = (id: string, body: Json, key: string) =>
    this.json("POST", `/v1/batches/${enc(id)}/feedback`, { body, headers: { "Idempotency-Key": key } });

  /**
   * Streams a local JSONL file to POST /v1/batches/input-manifests (raw x-ndjson, never read into
   * memory whole). Its sha256 is declared and names the Idempotency-Key, so uploading the same
   * file again within 24 h — a quote, then the submit — returns the same file instead of a copy.
   */
  async uploadManifest(filePath: string) {
    const abs = path.resolve(filePath);
    const info = await stat(abs).catch((e: NodeJS.ErrnoException) => {
      throw new PlatformError(
        "invalid_request",
        `Cannot read file_path ${abs}: ${e.code === "ENOENT" ? "no such file" : e.message}.`,
        400,
        { file_path: abs },
      );
    });
    if (!info.isFile()) throw new PlatformError("invalid_request", `file_path ${abs} is not a file.`, 400, { file_path: abs });
    const sha = await sha256File(abs);
    const body = Readable.toWeb(createReadStream(abs)) as unknown as BodyInit;
    const res = await this.json("POST", "/v1/batches/input-manifests", {
      query: { filename: path.basename(abs) },
      body,
      headers: { "Content-Type": "application/x-ndjson", "x-content-sha256": sha, "Idempotency-Key": `mcp-upload-${sha.slice(0, 56)}` },
    });
    return res.body;
  }

  private async json(method: string, p: string, opts: RequestOptions = {}): Promise<{ body: Json; replayed: boolean }> {
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": USER_AGENT, ...opts.headers };
    if (opts.auth !== false) {
      if (!this.key) throw noKey();
      headers.Authorization = `Bearer ${this.key}`;
    }
    let body: BodyInit | undefined;
    if (opts.body instanceof ReadableStream) body = opts.body;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] = "application/json";
    }
    const url = `${this.baseUrl}${p}${queryString(opts.query)}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PlatformError(
        "service_unavailable",
        `Could not reach BatchRouter at ${this.baseUrl} (${cause?.code ?? cause?.message ?? (e as Error).message}).`,
        503,
        { base_url: this.baseUrl },
      );
    }
    const text = await res.text();
    let parsed: Json | null = null;
    try {
      parsed = text ? (JSON.parse(text) as Json) : {};
    } catch {
      parsed = null;
    }
    const replayed = res.headers.get("idempotent-replayed") === "true";
    if (res.ok && parsed) return { body: parsed, replayed };
    // The server's code as it sent it: a server newer than this command may send a code this
    // version doesn't list, which the tools' error hints answer with their default.
    const err = parsed?.error as { code?: ErrorCode; message?: string; details?: Record<string, unknown>; request_id?: string } | undefined;
    if (err?.code)
      throw new PlatformError(
        err.code,
        err.message ?? err.code,
        res.status,
        err.details ?? {},
        err.request_id ?? res.headers.get("x-request-id"),
        replayed,
      );
    throw new PlatformError(
      "internal_error",
      `BatchRouter at ${this.baseUrl} answered ${method} ${p} with HTTP ${res.status} and no readable body; is BATCHROUTER_BASE_URL right?`,
      res.status,
      { base_url: this.baseUrl },
      res.headers.get("x-request-id"),
    );
  }
}

const enc = encodeURIComponent;

function queryString(query: Json | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}

export const noKey = () => new PlatformError("unauthorized", "No API key is configured for this MCP server.", 401, { reason: "no_key" });

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
