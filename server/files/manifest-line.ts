import {
  checkItemInput,
  fromOpenAiBatchLine,
  itemSchema,
  openAiBatchLineSchema,
  operationOf,
  IMAGE_PART_TYPES,
  isAllowedImageUrl,
  TEXT_PART_TYPES,
  TOOL_TYPES,
  type ManifestItem,
} from "../manifest/item-schema.js";
import type { Operation } from "../catalog/types.js";
import { unstorableJson } from "../text-guard.js";

/**
 * Per-line checks of a manifest: one decoded line (a JSON object) against the shared item schema,
 * and the table of ids already used. Zod is the authority; the fast path only ever *accepts* (or
 * declines and hands over to zod), so it changes speed but never a decision, and every rejection
 * message is zod's. Values must come from JSON.parse.
 */
export type LineFormat = "native" | "openai";
export type LineCheck = { ok: true; item: ManifestItem; operation: Operation } | { ok: false; message: string };
type Accepted = Extract<LineCheck, { ok: true }>;
type Obj = Record<string, unknown>;
type Issue = { path: readonly PropertyKey[]; message: string };

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** An OpenAI Batch line is recognised by its envelope; anything else is read as a native item. */
export function detectFormat(value: Obj): LineFormat {
  return Object.hasOwn(value, "custom_id") && Object.hasOwn(value, "url") && Object.hasOwn(value, "body") ? "openai" : "native";
}

/** The line's customer id when it is a usable one (so errors and duplicate checks can name it). */
export function customerIdOf(value: Obj, format: LineFormat): string | undefined {
  const id = format === "openai" ? value.custom_id : value.customer_item_id;
  return typeof id === "string" && id.length >= 1 && id.length <= 256 ? id : undefined;
}

/** Validates and normalises one line; `useFastPath: false` forces zod (the tests compare both). */
export function checkLine(value: Obj, format: LineFormat, defaultOperation?: Operation, useFastPath = true): LineCheck {
  if (useFastPath) {
    const hit = format === "native" ? fastNative(value, defaultOperation) : fastOpenAi(value);
    if (hit) return hit;
  }
  return format === "native" ? fullNative(value, defaultOperation) : fullOpenAi(value);
}

// ---- full path: the shared zod schemas ----

function nativeIssues(value: unknown, defaultOperation?: Operation): Accepted | Issue[] {
  const parsed = itemSchema.safeParse(value);
  if (!parsed.success) return parsed.error.issues;
  const operation = operationOf(parsed.data, defaultOperation);
  const issues = checkItemInput(parsed.data, operation);
  return issues.length > 0 ? issues : { ok: true, item: parsed.data, operation };
}

function fullNative(value: Obj, defaultOperation?: Operation): LineCheck {
  const r = nativeIssues(value, defaultOperation);
  return Array.isArray(r) ? { ok: false, message: describeIssues(r) } : r;
}

function fullOpenAi(value: Obj): LineCheck {
  const line = openAiBatchLineSchema.safeParse(value);
  if (!line.success) return { ok: false, message: describeIssues(line.error.issues) };
  // The converted item must also pass the native rules (model length, token cap, input shape)...
  const r = nativeIssues(fromOpenAiBatchLine(line.data));
  if (!Array.isArray(r)) return r;
  // ...but the customer wrote an OpenAI line, so name the fields as they appear in it.
  const body = line.data.body as Obj;
  const maxKey = ["max_output_tokens", "max_completion_tokens", "max_tokens"].find((k) => typeof body[k] === "number");
  const where = (path: readonly PropertyKey[]): PropertyKey[] => {
    const [head, ...rest] = path;
    if (head === "customer_item_id") return ["custom_id", ...rest];
    if (head === "input") return ["body", ...rest];
    if (head === "model") return ["body", "model", ...rest];
    if (head === "max_output_tokens") return ["body", maxKey ?? "max_tokens", ...rest];
    return [...path];
  };
  return { ok: false, message: describeIssues(r.map((i) => ({ path: where(i.path), message: i.message }))) };
}

/** `input.messages[0].role: Invalid option…; …` — the first few issues, each led by its field path. */
export function describeIssues(issues: readonly Issue[]): string {
  const shown = issues.slice(0, 3).map((i) => (i.path.length > 0 ? `${pathText(i.path)}: ${i.message}` : i.message));
  return issues.length > 3 ? `${shown.join("; ")}; and ${issues.length - 3} more` : shown.join("; ");
}

function pathText(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

// ---- fast path: the common shapes, checked by hand ----
// Each test below is at least as strict as the zod rule it mirrors; anything unusual (other keys,
// `__proto__` keys that zod's record copy would drop, unsafe integers) returns undefined → zod.

const FAST_ITEM_KEYS = new Set(["customer_item_id", "operation", "model", "model_options", "input", "metadata", "max_output_tokens"]);
const OPERATIONS = new Set<unknown>(["responses", "embeddings", "vision"]);
const ROLES = new Set<unknown>(["system", "developer", "user", "assistant", "tool"]);
const OPENAI_URLS = new Set<unknown>(["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]);

const posInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
const str = (v: unknown, min: number, max: number): v is string => typeof v === "string" && v.length >= min && v.length <= max;

/** The item zod would output (keys in schema order), when the fast checks suffice. Exported for tests. */
export function fastNative(value: Obj, defaultOperation?: Operation): Accepted | undefined {
  for (const k in value) if (!FAST_ITEM_KEYS.has(k)) return undefined;
  const { customer_item_id: id, operation, model, model_options: options, input, metadata, max_output_tokens: maxOut } = value;
  if (!str(id, 1, 256) || !isObj(input)) return undefined;
  if (operation !== undefined && !OPERATIONS.has(operation)) return undefined;
  if (model !== undefined && !str(model, 1, 200)) return undefined;
  if (options !== undefined && !(Array.isArray(options) && options.length <= 10 && options.every((o) => str(o, 1, 200)))) return undefined;
  if (maxOut !== undefined && !(posInt(maxOut) && maxOut <= 1_000_000)) return undefined;
  if (metadata !== undefined && !fastMetadata(metadata)) return undefined;
  const item: Obj = { customer_item_id: id };
  if (operation !== undefined) item.operation = operation;
  if (model !== undefined) item.model = model;
  if (options !== undefined) item.model_options = options;
  item.input = input;
  if (metadata !== undefined) item.metadata = metadata;
  if (maxOut !== undefined) item.max_output_tokens = maxOut;
  const op = operationOf(item as ManifestItem, defaultOperation);
  const fits = op === "embeddings" ? fastEmbeddingsInput(input) : fastResponsesInput(input);
  return fits ? { ok: true, item: item as ManifestItem, operation: op } : undefined;
}

/** The native item for a common OpenAI line, when the fast checks suffice. Exported for tests. */
export function fastOpenAi(value: Obj): Accepted | undefined {
  const body = value.body;
  if (!str(value.custom_id, 1, 256) || value.method !== "POST" || !OPENAI_URLS.has(value.url)) return undefined;
  if (!isObj(body) || !str(body.model, 1, Infinity)) return undefined;
  // The token caps must be positive integers when present (the schema checks them too).
  for (const k of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
    if (body[k] !== undefined && !posInt(body[k])) return undefined;
  }
  // fromOpenAiBatchLine only reads the envelope fields checked above; a `__proto__` in body ends up in
  // `input`, where the input checks decline it.
  return fastNative(fromOpenAiBatchLine(value as Parameters<typeof fromOpenAiBatchLine>[0]) as Obj);
}

function fastMetadata(m: unknown): boolean {
  if (!isObj(m)) return false;
  let n = 0;
  for (const k in m) if (k === "__proto__" || ++n > 16 || !str(m[k], 0, 500)) return false;
  return true;
}

/** A content part as contentPart (item-schema.ts) decides it: text needs text, images an allowed URL. */
function fastPart(p: unknown): boolean {
  if (!isObj(p) || !str(p.type, 1, Infinity)) return false;
  if (TEXT_PART_TYPES.has(p.type)) return typeof p.text === "string";
  if (!IMAGE_PART_TYPES.has(p.type)) return true;
  const image = p.image_url;
  const url = image !== null && typeof image === "object" ? (image as Obj).url : image;
  return typeof url === "string" && isAllowedImageUrl(url);
}

// As inputElement (item-schema.ts): an element with a role is a message, any other a part.
const fastInputElement = (e: unknown): boolean => (isObj(e) && "role" in e ? fastMessage(e) : fastPart(e));
const TOOL_TYPE_SET: ReadonlySet<unknown> = new Set(TOOL_TYPES);
const between = (v: unknown, min: number, max: number): boolean => typeof v === "number" && v >= min && v <= max;

function fastMessage(m: unknown): boolean {
  if (!isObj(m) || !ROLES.has(m.role)) return false;
  const c = m.content;
  return c === null || typeof c === "string" || (Array.isArray(c) && c.every(fastPart));
}

function fastResponsesInput(input: Obj): boolean {
  let has = false;
  for (const k in input) {
    const v = input[k];
    switch (k) {
      case "__proto__":
        return false;
      case "messages":
        if (!Array.isArray(v) || v.length === 0 || !v.every(fastMessage)) return false;
        has = true;
        break;
      case "input":
        if (typeof v === "string" ? v.length === 0 : !(Array.isArray(v) && v.length > 0 && v.every(fastInputElement))) return false;
        has = true;
        break;
      case "instructions":
        if (typeof v !== "string") return false;
        break;
      case "max_tokens":
      case "max_output_tokens":
        if (!posInt(v)) return false;
        break;
      case "tools":
        if (!Array.isArray(v) || !v.every((t) => isObj(t) && TOOL_TYPE_SET.has(t.type))) return false;
        break;
      case "temperature":
        if (!between(v, 0, 2)) return false;
        break;
      case "top_p":
        if (!between(v, 0, 1)) return false;
        break;
    }
  }
  return has;
}

function fastEmbeddingsInput(input: Obj): boolean {
  let has = false;
  for (const k in input) {
    const v = input[k];
    if (k === "__proto__") return false;
    if (k === "dimensions" && !posInt(v)) return false;
    if (k === "input") {
      const ok =
        typeof v === "string" ? v.length > 0 : Array.isArray(v) && v.length >= 1 && v.length <= 2048 && v.every((s) => str(s, 1, Infinity));
      if (!ok) return false;
      has = true;
    }
  }
  return has;
}

// ---- duplicate ids ----

/**
 * Remembers which customer ids a manifest has used, and on which line, in 16 bytes per slot whatever
 * the id's length: a Map of a million 256-character strings would take ~300 MB, this takes 23 MB.
 * Ids are kept as 96-bit hashes (three independent 32-bit lanes), so two different ids are taken for
 * duplicates with probability ~n²/2⁹⁷ (about 1e-17 for a million ids); a deliberate collision would
 * only make a customer's own upload fail.
 *
 * Sizing is about the upload's peak memory. The table doubles at half load, but never past what
 * `maxIds` needs at 70% load: a million ids fit in 1.43M slots (23 MB) rather than the next power of
 * two (2M slots, 32 MB). Each grow releases the old table at once (ArrayBuffer.transfer): otherwise
 * it waits for a full collection as garbage, and the 16 MB one left at the last doubling pushed a
 * million-line upload's peak RSS up by as much.
 */
export class IdTable {
  private slots: Uint32Array; // [h1, h2, h3, line] per slot; line 0 marks an empty slot (lines are 1-based)
  private capacity: number;
  private size = 0;
  private readonly ceiling: number;

  constructor(initialSlots = 4096, maxIds = 1_000_000) {
    this.ceiling = Math.max(initialSlots, Math.ceil(maxIds / 0.7));
    this.capacity = initialSlots;
    this.slots = new Uint32Array(initialSlots * 4);
  }

  /** The line that first used `id`, or 0 after recording `line` as its first use. */
  firstLineOf(id: string, line: number): number {
    const len = id.length;
    let a = 0x9747b28c ^ len;
    let b = 0x85ebca6b ^ len;
    let c = 0xc2b2ae35 ^ len;
    for (let i = 0; i < len; i++) {
      const ch = id.charCodeAt(i);
      a = (Math.imul(rotl(a ^ Math.imul(ch, 0xcc9e2d51), 13), 5) + 0xe6546b64) | 0;
      b = Math.imul(b ^ ch, 0x01000193);
      c = Math.imul(rotl(c + Math.imul(ch, 0x1b873593), 17), 0x27d4eb2f);
    }
    const h1 = fmix(a) >>> 0;
    const h2 = fmix(b ^ h1) >>> 0;
    const h3 = fmix(c ^ h2) >>> 0;
    const s = this.slots;
    const cap = this.capacity;
    for (let i = home(h1, cap); ; i = i + 1 === cap ? 0 : i + 1) {
      const o = i * 4;
      if (s[o + 3] === 0) {
        s[o] = h1;
        s[o + 1] = h2;
        s[o + 2] = h3;
        s[o + 3] = line;
        this.size++;
        // Linear probing stays short below half load; at the ceiling up to 70% is allowed (and more
        // ids than maxIds still get room, by doubling past it, rather than a table that fills up).
        if (this.size * 2 > cap && cap < this.ceiling) this.grow(Math.min(cap * 2, this.ceiling));
        else if (this.size * 10 > cap * 9) this.grow(cap * 2);
        return 0;
      }
      if (s[o] === h1 && s[o + 1] === h2 && s[o + 2] === h3) return s[o + 3]!;
    }
  }

  /** Memory the table holds. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  private grow(capacity: number): void {
    const old = this.slots;
    const slots = new Uint32Array(capacity * 4);
    for (let o = 0; o < old.length; o += 4) {
      if (old[o + 3] === 0) continue;
      let i = home(old[o]!, capacity);
      while (slots[i * 4 + 3] !== 0) i = i + 1 === capacity ? 0 : i + 1;
      slots.set(old.subarray(o, o + 4), i * 4);
    }
    [this.slots, this.capacity] = [slots, capacity];
    release(old.buffer);
  }
}

/** A 32-bit hash mapped onto 0..capacity-1 by scaling (any capacity, not only powers of two). */
const home = (h: number, capacity: number): number => Math.floor((h / 4294967296) * capacity);

/** Frees a buffer's memory now rather than at the next full collection; it must have no other users. */
function release(buffer: ArrayBufferLike): void {
  const b = buffer as ArrayBufferLike & { transfer?: (length: number) => ArrayBuffer };
  b.transfer?.(0);
}

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

// ---- storability ----

/** Why PostgreSQL would refuse this item (`json` is its JSON text), or undefined; refused later, it would be a 500. */
export function unstorable(json: string, item: unknown): string | undefined {
  const bad = unstorableJson(json, item);
  return bad && `${bad.path.length > 0 ? `${pathText(bad.path)} ` : ""}${bad.message}`;
}
