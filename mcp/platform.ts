/**
 * What the MCP tools need from BatchRouter: the platform's operations, named after the HTTP API.
 * Two implementations: `http-client.ts` (the stdio command, on the agent's machine, over HTTP with
 * the agent's key) and `in-process.ts` (the server's /mcp endpoint, calling the same domain
 * services the HTTP routes call). Tools see only this interface, so both serve the same tools.
 */

import type { ErrorCode } from "../server/errors.js";

// Bodies are passed through as the API shapes them; the tools' output schemas describe them.
export type Json = Record<string, any>;

export type { ErrorCode };

/**
 * A failure in the API's own vocabulary (spec/api.md "Error codes"), wherever it came from: the
 * code is typed, so a misspelt one fails typecheck where it is raised or handled.
 */
export class PlatformError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
    readonly requestId: string | null = null,
    /** The answer is a stored response replayed for an Idempotency-Key, not a new attempt. */
    readonly replayed = false,
  ) {
    super(message);
    this.name = "PlatformError";
  }
}

export interface Idempotent<T = Json> {
  body: T;
  replayed: boolean;
}

export type KeyEnvironment = "live" | "test";

/** A key's environment from its prefix (`br_test_…`; `br_live_…` and legacy `ob_live_…` are live). */
export const environmentOfKey = (key: string): KeyEnvironment => (key.startsWith("br_test_") ? "test" : "live");

export interface Platform {
  /** Where the tools run: "stdio" on the agent's machine, "http" inside the server at /mcp. */
  readonly transport: "stdio" | "http";
  /** The base URL the platform answers on, for the text of hints. */
  readonly baseUrl: string;
  /** The environment of the key in use, or null when none is configured yet. */
  keyEnvironment(): KeyEnvironment | null;

  /** POST /v1/auth/agent-register, then continue the session with the returned test key. */
  registerAndUseTestKey(body: Json): Promise<Json>;
  getAccount(): Promise<Json>;
  listModels(query: Json): Promise<Json>;
  listWorkflowProducts(): Promise<Json>;
  quote(body: Json): Promise<Json>;
  /** Uploads a local JSONL manifest (stdio only: the server can't read the agent's disk). */
  uploadManifest(filePath: string): Promise<Json>;
  createBatch(body: Json, idempotencyKey: string): Promise<Idempotent>;
  getBatch(id: string): Promise<Json>;
  listBatches(query: Json): Promise<Json>;
  results(id: string, query: Json): Promise<Json>;
  artifactUrl(id: string, kind: string): Promise<Json>;
  cancelBatch(id: string): Promise<Json>;
  sendFeedback(id: string, body: Json, idempotencyKey: string): Promise<Idempotent>;
}

/** What every tool runs with. Here rather than in tools/define.ts, so tools/errors.ts needs no import back. */
export interface ToolEnv {
  platform: Platform;
  /** Called with failures that are ours (not the caller's), so the host can log them. */
  onInternalError?: (err: unknown, tool: string) => void;
}
