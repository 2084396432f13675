import { createHash } from "node:crypto";
import { JSONParser, TokenType } from "@streamparser/json-node";
import { z } from "zod";
import type { AppError } from "../../errors.js";
import { fail } from "../../errors.js";
import { MANIFEST_LIMITS } from "../../files/upload.js";
import { jsonPointer } from "../../json-pointer.js";
import { unstorableValue } from "../../text-guard.js";
import { anthropicRequestSchema, MAX_REQUESTS, toNativeItem } from "./create-request.js";
import { Refusal } from "./message-content.js";

/** Anthropic's limit on a create body. */
export const ANTHROPIC_BODY_LIMIT = 256 * 1024 * 1024;

export interface RequestStreamLimits {
  /** The whole body. */
  maxBytes: number;
  /** JSON text between two requests (in effect one request): the native limit on one manifest line. */
  maxRequestBytes: number;
  maxRequests: number;
}

export const REQUEST_STREAM_LIMITS: RequestStreamLimits = {
  maxBytes: ANTHROPIC_BODY_LIMIT,
  maxRequestBytes: MANIFEST_LIMITS.maxLineBytes,
  maxRequests: MAX_REQUESTS,
};

/** A request whose `params` we can't run: it becomes an `errored` result, not a refusal of the batch. */
export interface RejectedRequest {
  /** Its position in `requests`. */
  index: number;
  custom_id: string;
  /** Why, naming the field (a JSON pointer from the request). */
  message: string;
}

/** What the stream learned, for the caller once it has been read to its end. */
export interface RequestStreamState {
  /** custom_id of each request, in order: native errors name items by index, Anthropic's users by custom_id. */
  customIds: string[];
  bytes: number;
  /** Of the body as sent, for a declared `x-content-sha256`. */
  sha256?: string;
  /** Requests left out of the native lines, in order (absent until one is). */
  rejected?: RejectedRequest[];
}

/**
 * The native item's own checks (the ones the batch's preparation runs), so a request that would fail
 * them is rejected alone here rather than failing the whole batch later: a problem's message, or null.
 */
export type NativeItemCheck = (item: unknown, index: number) => string | null;

/** A refusal of request `index` as Anthropic's invalid_request_error, naming its custom_id and path. */
export function requestError(state: RequestStreamState, index: number, path: (string | number)[], message: string): AppError {
  const pointer = jsonPointer(["requests", index, ...path]);
  const id = state.customIds[index];
  const who = id === undefined ? "" : ` (custom_id "${id}")`;
  return fail.invalidRequest(`Invalid request at ${pointer}${who}: ${message}.`, {
    location: "body",
    errors: [{ path: pointer, message, ...(id === undefined ? {} : { custom_id: id }) }],
  });
}

/** The shape every request must have, whatever its params: a problem here refuses the whole create. */
const envelopeSchema = z.looseObject({
  custom_id: anthropicRequestSchema.shape.custom_id,
  params: z.record(z.string(), z.unknown()),
});

/**
 * Reads Anthropic's create body `{"requests": [...]}` as it streams in and yields the requests as
 * native manifest lines (JSONL bytes), each validated and translated as soon as its JSON has been
 * read: only the request being parsed is ever held, never the body. The edge guards of the JSON body
 * middleware apply — valid UTF-8 (decoded with a fatal decoder, chunk by chunk), no NUL, lone
 * surrogate or overflowing number (text-guard's walk over each request) — plus the limits: the body
 * (413), one request's JSON text, the number of requests. A problem with the envelope (the body, a
 * request's `custom_id`, a duplicate, a missing or non-object `params`, text no JSON route takes,
 * the limits) throws, naming
 * the request's index and custom_id and the JSON path. A problem inside `params` rejects that request
 * only, as Anthropic validates params per request (its result is `errored`): it is recorded in
 * `state.rejected` and yields no line.
 */
export async function* nativeLinesOf(
  body: AsyncIterable<Buffer | Uint8Array>,
  known: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  state: RequestStreamState,
  limits: RequestStreamLimits = REQUEST_STREAM_LIMITS,
  check?: NativeItemCheck,
): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const hash = createHash("sha256");
  // `$.*.*`: the members of `requests` (and of any other top-level field, refused at its first
  // member). Nothing above them is emitted, so keepStack: false drops each request once handled.
  const parser = new JSONParser({ paths: ["$.*.*"], keepStack: false }, { decodeStrings: false, readableHighWaterMark: 1 << 20 });
  parser.on("error", () => undefined); // read from `errored` after each write
  const keys = topLevelKeyCounter(parser);
  const seen = new Map<string, number>();
  let bytesAtLastRequest = 0;
  let out = "";

  const handle = (info: { value: unknown; key?: string | number; stack: { key?: string | number }[] }) => {
    const field = info.stack[1]?.key;
    if (typeof field === "number") throw fail.invalidRequest('The body must be a JSON object: {"requests": [...]}.');
    if (field !== "requests") throw fail.invalidRequest(`Unknown field \`${String(field)}\`: the body holds \`requests\` only.`);
    if (typeof info.key !== "number") throw fail.invalidRequest("Invalid body: /requests: must be an array of requests.");
    const index = state.customIds.length;
    bytesAtLastRequest = state.bytes;
    if (index >= limits.maxRequests)
      throw requestError(state, index, [], `a batch holds at most ${limits.maxRequests} requests; split it into several batches`);
    const envelope = envelopeSchema.safeParse(info.value);
    if (!envelope.success) {
      const issue = envelope.error.issues[0]!;
      throw requestError(state, index, issue.path as (string | number)[], issue.message);
    }
    const extra = Object.keys(envelope.data).find((k) => k !== "custom_id" && k !== "params");
    if (extra !== undefined) throw requestError(state, index, [extra], "a request holds `custom_id` and `params` only");
    const id = envelope.data.custom_id;
    state.customIds.push(id);
    const first = seen.get(id);
    if (first !== undefined) throw requestError(state, index, ["custom_id"], `duplicate custom_id, already used by requests[${first}]`);
    seen.set(id, index);
    const reject = (path: (string | number)[], message: string) => {
      const end = /[.!?]$/.test(message) ? "" : ".";
      (state.rejected ??= []).push({ index, custom_id: id, message: `${jsonPointer(path)}: ${message}${end}` });
    };
    // Text nothing can store (a NUL, a lone surrogate, an overflowing number) refuses the whole
    // body, as on every JSON route — not one result: the error would have to quote it.
    const bad = unstorableValue(info.value);
    if (bad) throw requestError(state, index, bad.path, bad.message);
    const parsed = anthropicRequestSchema.safeParse(info.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return reject(issue.path as (string | number)[], issue.message);
    }
    let item: ReturnType<typeof toNativeItem>;
    try {
      item = toNativeItem(parsed.data, known);
    } catch (e) {
      if (e instanceof Refusal) return reject(["params", ...e.path], e.message);
      throw e;
    }
    const problem = check?.(item, index);
    if (problem) return reject(["params"], problem);
    out += `${JSON.stringify(item)}\n`;
  };

  const drain = () => {
    if (parser.errored) throw fail.invalidJson(`The body is not valid JSON: ${parser.errored.message}`);
    if (keys.requests > 1) throw fail.invalidRequest("Invalid body: `requests` appears more than once.");
    for (let v = parser.read(); v !== null; v = parser.read()) handle(v);
  };

  for await (const raw of body) {
    const chunk = raw instanceof Buffer ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    state.bytes += chunk.length;
    if (state.bytes > limits.maxBytes)
      throw fail.payloadTooLarge(`A create body is limited to ${limits.maxBytes} bytes; split the batch.`, {
        limit_bytes: limits.maxBytes,
      });
    if (state.bytes - bytesAtLastRequest > limits.maxRequestBytes + chunk.length)
      throw requestError(state, state.customIds.length, [], `a request is limited to ${limits.maxRequestBytes} bytes of JSON`);
    hash.update(chunk);
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      throw fail.invalidJson("The body is not valid UTF-8.");
    }
    parser.write(text);
    drain();
    if (out !== "") {
      yield Buffer.from(out);
      out = "";
    }
  }
  try {
    decoder.decode();
  } catch {
    throw fail.invalidJson("The body is not valid UTF-8 (it ends inside a character).");
  }
  await new Promise<void>((resolve) => parser.end(() => resolve()));
  drain();
  if (state.customIds.length === 0) throw fail.invalidRequest("Invalid body: /requests: a batch needs at least one request.");
  state.sha256 = hash.digest("hex");
  if (out !== "") yield Buffer.from(out);
}

/**
 * Counts the root object's `requests` keys from the parser's tokens. The parser emits members of
 * `requests` only, so a duplicate `requests` key would otherwise go unseen (a scalar) or add its
 * requests to the first's (an array), where JSON.parse would keep the last.
 */
function topLevelKeyCounter(parser: JSONParser): { requests: number } {
  const counts = { requests: 0 };
  let depth = 0;
  let rootIsObject = false;
  let keyNext = false;
  const inner = (parser as unknown as { jsonParser: { onToken: (t: { token: TokenType; value: unknown }) => void } }).jsonParser;
  inner.onToken = ({ token, value }) => {
    if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
      if (depth === 0) rootIsObject = token === TokenType.LEFT_BRACE;
      keyNext = ++depth === 1 && rootIsObject;
    } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) depth--;
    else if (depth === 1 && rootIsObject) {
      if (token === TokenType.COMMA) keyNext = true;
      else if (keyNext && token === TokenType.STRING && value === "requests") counts.requests++;
      if (token !== TokenType.COMMA) keyNext = false;
    }
  };
  return counts;
}
