/**
 * Small shared pieces of the OpenAI fake: seeded randomness, OpenAI-style ids, the error envelope,
 * and JSON/body helpers for node:http. Kept dependency-free so the fake only needs node (and busboy
 * for multipart, in openai-fake-files.ts).
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { mulberry32 } from "../../worker/providers/hash.js";

/** OpenAI's control-plane error body: `{error: {message, type, param, code}}`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Thrown by handlers to answer an HTTP error in OpenAI's envelope. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: OpenAiErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.error.message);
  }
}

export function errorBody(
  message: string,
  type = "invalid_request_error",
  param: string | null = null,
  code: string | null = null,
): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

/** A 400 invalid_request_error, the status OpenAI uses for every parameter problem. */
export function badRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, errorBody(message, "invalid_request_error", param, code));
}

/** mulberry32 (a tiny seeded PRNG), so a run replays identically for one seed. */
export const seededRng = mulberry32;

/** A stable 32-bit number from a string: seeds per-batch shuffles and embedding vectors. */
export function hash32(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32LE(0);
}

/** Fisher–Yates with a seeded RNG; never returns the input order for ≥ 2 items (rotates if it would). */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rnd = seededRng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  // A test asserting "output order is not input order" must not pass or fail by luck.
  if (out.length > 1 && out.every((x, i) => x === items[i])) out.push(out.shift() as T);
  return out;
}

/**
 * Id generator with OpenAI's prefixes (`file-`, `batch_`, `batch_req_`, `req_`, `chatcmpl-`, `resp_`,
 * `msg_`, `call_`, `fc_`). Ids are unique and increase in creation order, and a seed keeps two runs
 * alike; OpenAI's are opaque, so no adapter may parse them.
 */
export function idMaker(seed: number): (prefix: string) => string {
  let n = 0;
  const salt = (seed >>> 0).toString(16).padStart(8, "0");
  return (prefix) => {
    n += 1;
    const tail = createHash("sha256").update(`${salt}:${n}`).digest("hex").slice(0, 16);
    return `${prefix}${n.toString(36).padStart(6, "0")}${tail}`;
  };
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads a JSON object body; OpenAI answers 400 (not 415/422) to a body it can't parse. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString("utf8");
  let parsed: unknown;
  try {
    parsed = raw.length ? JSON.parse(raw) : {};
  } catch {
    throw badRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
  if (!isObject(parsed)) throw badRequest("The request body must be a JSON object.");
  return parsed;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `limit` query parameter with OpenAI's bounds; out-of-range is a 400, as upstream. */
export function parseLimit(raw: string | null, def: number, max: number): number {
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw badRequest(`Invalid 'limit': expected an integer between 1 and ${max}.`, "limit", "integer_out_of_range");
  return n;
}

/** Cursor pagination over newest-first items: `after` is the id of the last item already seen. */
export function cursorPage<T extends { id: string }>(items: T[], after: string | null, limit: number) {
  let start = 0;
  if (after) {
    const i = items.findIndex((x) => x.id === after);
    start = i < 0 ? items.length : i + 1;
  }
  const data = items.slice(start, start + limit);
  return {
    object: "list" as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < items.length,
  };
}
