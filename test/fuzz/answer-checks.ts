import type { Db } from "../../db/connection.js";
import type { WireBody } from "./raw-bodies.js";

/** One generated request, as sent. */
export interface FuzzRequest extends WireBody {
  method: string;
  path: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends the request as raw bytes (so bad UTF-8 stays bad); a transport failure is an answer of status 0. */
export async function send(base: string, key: string, req: FuzzRequest, extraHeaders: Record<string, string>): Promise<Answer> {
  try {
    const res = await fetch(`${base}${req.path}`, {
      method: req.method,
      headers: { Authorization: `Bearer ${key}`, ...extraHeaders, ...req.headers },
      body: req.body as BodyInit,
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (e) {
    return { status: 0, headers: new Headers(), text: String((e as Error).cause ?? e) };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const sameKeys = (v: Record<string, unknown>, keys: string[]) => JSON.stringify(Object.keys(v).sort()) === JSON.stringify([...keys].sort());

/** What is wrong with the envelope of one surface's error body, or undefined. */
function envelopeProblem(path: string, body: unknown, requestId: string): string | undefined {
  if (path.startsWith("/v1/openai/")) {
    // OpenAI's {error: {message, type, param, code}}: its SDKs read exactly these.
    const e = isObject(body) ? body.error : undefined;
    if (!isObject(body) || !sameKeys(body, ["error"]) || !isObject(e) || !sameKeys(e, ["message", "type", "param", "code"]))
      return "not OpenAI's {error: {message, type, param, code}}";
    if (typeof e.message !== "string" || typeof e.type !== "string") return "OpenAI error without a string message and type";
    if (e.param !== null && typeof e.param !== "string") return "OpenAI error param neither string nor null";
    if (e.code !== null && typeof e.code !== "string") return "OpenAI error code neither string nor null";
    return undefined;
  }
  if (path.startsWith("/v1/anthropic/")) {
    const e = isObject(body) ? body.error : undefined;
    if (!isObject(body) || body.type !== "error" || !isObject(e) || !sameKeys(e, ["type", "message"]))
      return 'not Anthropic\'s {type: "error", error: {type, message}}';
    if (typeof e.type !== "string" || typeof e.message !== "string") return "Anthropic error without a string type and message";
    return undefined;
  }
  const e = isObject(body) ? body.error : undefined;
  if (!isObject(body) || !sameKeys(body, ["error"]) || !isObject(e) || !sameKeys(e, ["code", "message", "details", "request_id"]))
    return "not the envelope {error: {code, message, details, request_id}}";
  if (typeof e.code !== "string" || typeof e.message !== "string" || !isObject(e.details)) return "envelope fields of the wrong type";
  if (e.request_id !== requestId) return `error.request_id ${JSON.stringify(e.request_id)} is not the X-Request-Id ${requestId}`;
  return undefined;
}

/**
 * The properties every answer to a bad request must have: refused with a 4xx other than 429 (a 2xx
 * means a bad input was taken; a 429 would hide what the server does with it), never a 5xx, a
 * request id in X-Request-Id, and the error envelope of the surface asked.
 */
export function answerProblems(req: FuzzRequest, res: Answer): string[] {
  if (res.status === 0) return [`no HTTP answer: ${res.text}`];
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`answered ${res.status}`);
  else if (res.status < 400) problems.push(`accepted with ${res.status}`);
  else if (res.status === 429) problems.push("rate limited (raise the fuzz limits)");
  const requestId = res.headers.get("x-request-id") ?? "";
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(requestId)) problems.push("no X-Request-Id");
  if (res.status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      problems.push(`error body is not JSON: ${res.text.slice(0, 80)}`);
    }
    if (body !== undefined) {
      const p = envelopeProblem(req.path, body, requestId);
      if (p) problems.push(p);
    }
  }
  return problems;
}

/** A one-line description of the request and its answer, enough to reproduce it by hand. */
export function describeExchange(req: FuzzRequest, res: Answer): string {
  const bytes = Buffer.from(req.body);
  const shown =
    bytes.length > 300
      ? `${JSON.stringify(bytes.subarray(0, 300).toString("latin1"))}… (${bytes.length} bytes)`
      : JSON.stringify(bytes.toString("latin1"));
  return `<${req.note}> ${req.method} ${req.path} ${JSON.stringify(req.headers)} body=${shown} → ${res.status} ${res.text.slice(0, 300)}`;
}

// Tables a rejected request may legitimately change, and why:
// * rate_limits — every request, refused or not, spends a point of its key's and its IP's window
//   (server/http/middleware/rate-limit.ts); counting refused requests is the point of a limiter.
// * idempotency_keys — checked separately (idempotencyRowsProblems): a request that ran and ended
//   402/404/409/422 is stored under its key so a retry replays it (server/idempotency.ts).
// * knex_migrations* — the schema's own bookkeeping, not written by requests.
const EXEMPT = new Set(["rate_limits", "idempotency_keys", "knex_migrations", "knex_migrations_lock"]);

/** Row counts of every table a request could write (all of `public`, and pg-boss's jobs). */
export async function rowCounts(db: Db): Promise<Record<string, number>> {
  const tables = await db("information_schema.tables")
    .where({ table_schema: "public", table_type: "BASE TABLE" })
    .pluck<string[]>("table_name");
  const counts: Record<string, number> = {};
  for (const t of tables.filter((t) => !EXEMPT.has(t)).sort()) {
    const [row] = await db(t).count<{ n: string }[]>("* as n");
    counts[t] = Number(row!.n);
  }
  // A create that failed halfway must not have enqueued its first job either.
  const [jobs] = await db("pgboss.job").count<{ n: string }[]>("* as n");
  counts["pgboss.job"] = Number(jobs!.n);
  return counts;
}

const REPLAYED_STATUSES = new Set([402, 404, 409, 422]);

/** Idempotency records left by the fuzz run must all be finished outcomes that are meant to be replayed. */
export async function idempotencyRowsProblems(db: Db, since: Date): Promise<string[]> {
  const rows = await db("idempotency_keys").where("created_at", ">=", since).select("key", "state", "response_status");
  return rows
    .filter((r) => r.state !== "done" || !REPLAYED_STATUSES.has(r.response_status))
    .map((r) => `idempotency key ${r.key} left ${r.state} with status ${r.response_status}`);
}
