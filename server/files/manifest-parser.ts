import { isUtf8 } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import type { Operation } from "../catalog/types.js";
import { JoinedTexts } from "./joined-texts.js";
import { checkLine, customerIdOf, detectFormat, IdTable, isObj, unstorable, type LineFormat } from "./manifest-line.js";

/**
 * Streaming parser for uploaded JSONL manifests (spec/api.md §4). Memory stays flat: only the line
 * being read (≤ maxLineBytes), one batch of parsed items and a fixed-size table of id hashes are held.
 *
 * Error policy. Every bad line gets one error (the first problem found); after the first error
 * onItems is no longer called, since the caller rolls back anyway. After maxErrors errors, lines are
 * no longer checked but still counted and hashed to the end of the body (a newline scan and SHA-256,
 * ~800 MB/s on a 2-core box), so item_count, bytes and sha256 stay exact and `unchecked_lines` says
 * how many lines went unchecked. Only the two limits stop reading early (`aborted`); the source is then
 * left as it is — a Node stream is not destroyed, so the caller can still answer on the request and
 * discard the rest of the body.
 */
/**
 * A valid line. Its item is not kept: onItems gets its JSON text, and holding a thousand parsed
 * objects across the database write made them outlive the young generation, so a 1,000,000-line
 * upload left ~100 MB of them for full collections to find.
 */
export interface ParsedItem {
  line: number;
  operation: Operation;
  /** Bytes of the line, without its line ending. */
  bytes: number;
}
/** `item` is the customer id when the line has a usable one; `line` is 1-based, 0 for the whole file. */
export interface PreflightError {
  item?: string;
  line: number;
  code: string;
  message: string;
}
export interface ParseOptions {
  defaultOperation?: Operation;
  /**
   * Receives each batch of valid items with their JSON texts to store, as UTF-8 joined by newlines
   * (a JSON text has none): a line's own bytes when its item is the line as written (most native
   * lines), otherwise the normalised item serialised.
   */
  onItems: (batch: ParsedItem[], texts: Buffer) => Promise<void>;
  maxLines?: number;
  maxBytes?: number;
  maxLineBytes?: number;
  maxErrors?: number;
}
export interface ParseResult {
  /** Non-blank lines, valid or not: on success the number of items, otherwise comparable to the client's count. */
  item_count: number;
  /** Bytes read (all of the body unless aborted). */
  bytes: number;
  sha256: string;
  format: "native" | "openai" | "empty";
  errors: PreflightError[];
  aborted?: "too_many_lines" | "too_large";
  /** Lines left unchecked after maxErrors errors. */
  unchecked_lines?: number;
}

const BATCH_ITEMS = 1000;
// Items can be 10 MB each; a count alone would let one batch hold gigabytes.
const BATCH_BYTES = 8 * 1024 * 1024;
const FORMAT_NAME: Record<LineFormat, string> = { native: "a native item", openai: "an OpenAI batch line" };

/** Reads a JSONL manifest, hands valid items to `onItems` in batches and reports every problem by line. */
export async function parseManifest(
  source: AsyncIterable<Buffer | Uint8Array> | NodeJS.ReadableStream,
  opts: ParseOptions,
): Promise<ParseResult> {
  const s = new Scanner(opts);
  const maxBytes = opts.maxBytes ?? 2 * 1024 ** 3;
  // Stopping early must not destroy an HTTP request: the caller still has to answer on its socket.
  const it: AsyncIterator<unknown> =
    source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      const next = await it.next();
      exhausted = next.done === true;
      if (exhausted) break;
      let chunk = toBuffer(next.value);
      const over = chunk.length > maxBytes - s.bytes;
      if (over) chunk = chunk.subarray(0, maxBytes - s.bytes);
      let pos = 0;
      while (pos < chunk.length && !s.aborted) {
        pos = s.feed(chunk, pos);
        if (s.batchFull()) await s.flush();
      }
      // Hash only what was read, so an aborted result is the same however the body was chunked.
      s.hash.update(pos === chunk.length ? chunk : chunk.subarray(0, pos));
      s.bytes += pos;
      if (s.aborted) break;
      if (over) {
        s.abort("too_large", `the manifest is larger than ${maxBytes} bytes; split it into several files`);
        break;
      }
    }
    if (exhausted) s.finishLastLine();
    if (!s.aborted && s.itemLines === 0 && s.errors.length === 0)
      s.error(0, "empty_manifest", "the manifest has no items (it is empty or only blank lines)");
    await s.flush();
  } finally {
    // Like `for await … break`: let the source clean up. A failing cleanup must not hide the real outcome.
    if (!exhausted) await Promise.resolve(it.return?.()).catch(() => undefined);
  }
  return s.result();
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  // A decoded (string) stream has already replaced invalid UTF-8, which must be reported instead.
  throw new TypeError("parseManifest needs a byte stream (Buffer or Uint8Array chunks), not decoded text");
}

/** The per-body state; `feed` splits bytes into lines and checks each one synchronously. */
class Scanner {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  itemLines = 0;
  errors: PreflightError[] = [];
  aborted: ParseResult["aborted"];
  private lineNo = 0;
  private format: LineFormat | undefined;
  private formatLine = 0;
  private mixedReported = false;
  private unchecked = 0;
  private readonly ids: IdTable;
  private batch: ParsedItem[] = [];
  private batchBytes = 0;
  private texts = new JoinedTexts();
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private dropping = false; // inside a line already known to be too long: skip to its newline
  private readonly maxLines: number;
  private readonly maxLineBytes: number;
  private readonly maxErrors: number;

  constructor(private readonly opts: ParseOptions) {
    this.maxLines = opts.maxLines ?? 1_000_000;
    this.maxLineBytes = opts.maxLineBytes ?? 10 * 1024 * 1024;
    this.maxErrors = opts.maxErrors ?? 100;
    this.ids = new IdTable(4096, this.maxLines);
  }

  /** Reads lines from chunk[pos..]; returns where it stopped (early when a batch fills or on abort). */
  feed(chunk: Buffer, pos: number): number {
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      if (nl === -1) {
        this.hold(chunk, pos, chunk.length);
        return chunk.length;
      }
      if (this.pendingLen === 0 && !this.dropping) this.line(chunk.subarray(pos, nl));
      else {
        this.hold(chunk, pos, nl);
        this.line(this.takePending());
      }
      pos = nl + 1;
      if (this.aborted || this.batchFull()) return pos;
    }
    return pos;
  }

  finishLastLine(): void {
    if (this.pendingLen > 0 || this.dropping) this.line(this.takePending());
  }

  batchFull(): boolean {
    return this.batch.length >= BATCH_ITEMS || this.batchBytes >= BATCH_BYTES;
  }

  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 0 || this.errors.length > 0) return;
    await this.opts.onItems(batch, this.texts.take());
  }

  error(line: number, code: string, message: string, item?: string): void {
    this.errors.push(item === undefined ? { line, code, message } : { item, line, code, message });
    this.batch = [];
    this.texts.clear();
  }

  abort(reason: "too_many_lines" | "too_large", message: string): void {
    this.aborted = reason;
    this.error(this.lineNo + (reason === "too_large" ? 1 : 0), reason, message);
  }

  result(): ParseResult {
    const r: ParseResult = {
      item_count: this.itemLines,
      bytes: this.bytes,
      sha256: this.hash.digest("hex"),
      format: this.format ?? "empty",
      errors: this.errors,
    };
    if (this.aborted) r.aborted = this.aborted;
    if (this.unchecked > 0) r.unchecked_lines = this.unchecked;
    return r;
  }

  // Keeps the start of a line that continues in the next chunk. Copied, because a source may reuse
  // its buffer for the next chunk. Bounded by the line limit plus the 4 bytes `line` strips (a BOM,
  // a `\r`), so the decision is the same as for a line that arrived in one chunk.
  private hold(chunk: Buffer, from: number, to: number): void {
    if (this.dropping || to === from) return;
    if (this.pendingLen + (to - from) > this.maxLineBytes + 4) {
      [this.dropping, this.pending, this.pendingLen] = [true, [], 0];
      return;
    }
    this.pending.push(Buffer.from(chunk.subarray(from, to)));
    this.pendingLen += to - from;
  }

  /** The held line, or null when it was too long and dropped. */
  private takePending(): Buffer | null {
    const line = this.dropping ? null : this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    this.dropping = false;
    return line;
  }

  private line(raw: Buffer | null): void {
    const lineNo = ++this.lineNo;
    let start = 0;
    let end = raw ? raw.length : 0;
    if (raw) {
      if (end > 0 && raw[end - 1] === 13) end--;
      if (lineNo === 1 && end >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) start = 3; // UTF-8 BOM
    }
    const tooLarge = raw === null || end - start > this.maxLineBytes;
    // An over-long line is an error even if blank: a dropped line's bytes are no longer there to look at.
    if (!tooLarge && isBlank(raw!, start, end)) return;
    if (++this.itemLines > this.maxLines) {
      this.abort("too_many_lines", `the manifest has more than ${this.maxLines} items; split it into several files`);
      return;
    }
    if (this.errors.length >= this.maxErrors) {
      this.unchecked++;
      return;
    }
    if (tooLarge) {
      this.error(lineNo, "line_too_large", `the line is longer than ${this.maxLineBytes} bytes`);
      return;
    }
    this.check(raw!.subarray(start, end), lineNo);
  }

  private check(bytes: Buffer, lineNo: number): void {
    if (!isUtf8(bytes)) return this.error(lineNo, "invalid_utf8", "the line is not valid UTF-8; save the file as UTF-8");
    let value: unknown;
    const text = bytes.toString("utf8");
    try {
      value = JSON.parse(text);
    } catch (e) {
      return this.error(lineNo, "invalid_json", `invalid JSON: ${(e as Error).message}`);
    }
    if (!isObj(value)) return this.error(lineNo, "invalid_json", `each line must be a JSON object, found ${kindOf(value)}`);
    const format = detectFormat(value);
    const id = customerIdOf(value, format);
    // Every usable id is recorded, even on a bad line, so a duplicate is found whichever copy is fixed.
    const firstUse = id === undefined ? 0 : this.ids.firstLineOf(id, lineNo);
    if (this.format === undefined) {
      this.format = format;
      this.formatLine = lineNo;
    } else if (format !== this.format && !this.mixedReported) {
      this.mixedReported = true;
      const msg = `this line is ${FORMAT_NAME[format]} but line ${this.formatLine} is ${FORMAT_NAME[this.format]}; use one format per file`;
      return this.error(lineNo, "mixed_formats", msg, id);
    }
    let r: ReturnType<typeof checkLine>;
    try {
      r = checkLine(value, format, this.opts.defaultOperation);
    } catch (e) {
      // The shared schema walks nested arrays recursively; a 10 MB line of `[[[[…` overflows the stack.
      if (!(e instanceof RangeError)) throw e;
      r = { ok: false, message: "the line is nested too deeply to be checked" };
    }
    if (!r.ok) return this.error(lineNo, "invalid_item", r.message, id);
    if (firstUse !== 0) {
      const field = format === "openai" ? "custom_id" : "customer_item_id";
      return this.error(lineNo, "duplicate_customer_item_id", `${field} "${id}" is already used on line ${firstUse}`, id);
    }
    // Re-serialising costs more than the rest of the checks together: keep the line's bytes when
    // the item holds exactly the line's values (the fast path's copy), so both parse the same.
    const verbatim = format === "native" && sameMembers(value, r.item);
    const json = verbatim ? text : JSON.stringify(r.item);
    const why = unstorable(json, r.item);
    if (why) return this.error(lineNo, "invalid_item", why, id);
    if (this.errors.length > 0) return;
    this.batch.push({ line: lineNo, operation: r.operation, bytes: bytes.length });
    // Copied (a source may reuse a chunk's buffer once it has been read past).
    this.texts.append(verbatim ? bytes : json);
    this.batchBytes += bytes.length;
  }
}

/** The same own keys holding the very same values. */
function sameMembers(a: Record<string, unknown>, b: object): boolean {
  const o = b as Record<string, unknown>;
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(o, k) || o[k] !== a[k]) return false;
    n++;
  }
  for (const k in o) if (--n < 0) return false;
  return n === 0;
}

// Whitespace-only lines count as blank: JSON whitespace is space, tab, CR (and LF, already split off).
function isBlank(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`);
