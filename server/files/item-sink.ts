import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Db, Trx } from "../../db/connection.js";
import { fileItemCopyLine, finishUpload, insertFile, startFileItemsCopy, type FileRow } from "../../db/queries/files.js";
import type { ParsedItem, PreflightError } from "./manifest-parser.js";

type NewFileRow = Omit<FileRow, "created_at" | "deleted_at">;

/**
 * Writes an upload's items into `file_items` with COPY, inside one transaction that also holds the
 * files row, so they appear together on commit or not at all. The transaction is opened lazily at
 * the first batch of valid items: a manifest that fails on its first lines never takes a pool
 * connection, and one that is being uploaded slowly only holds one once it has items to write.
 */
export class ItemSink {
  /** Items the parser accepted but PostgreSQL can't store (see `unstorable`). */
  readonly errors: PreflightError[] = [];
  private trx?: Trx;
  private copy?: Writable;
  private copyError?: Error;
  private idx = 0;

  constructor(
    private readonly db: Db,
    private readonly row: NewFileRow,
  ) {}

  /** The parser's onItems: serialise, check, and stream the batch into COPY (with backpressure). */
  async write(batch: ParsedItem[]): Promise<void> {
    const rows: string[] = [];
    let size = 0;
    for (const p of batch) {
      const json = JSON.stringify(p.item);
      // JSON.stringify writes control characters only as escapes, so without a backslash there is
      // nothing to escape for COPY and nothing jsonb could refuse: most items skip both steps.
      const plain = !json.includes("\\");
      const why = plain ? undefined : unstorable(json, p.item);
      if (why) {
        this.errors.push({ item: p.item.customer_item_id, line: p.line, code: "invalid_item", message: why });
      } else if (this.errors.length === 0) {
        const row = fileItemCopyLine(this.row.id, this.idx++, p.line, json, plain);
        rows.push(row);
        size += Buffer.byteLength(row);
      }
    }
    // After an error the upload will be rolled back: stop writing, but keep checking for more errors.
    if (this.errors.length > 0 || rows.length === 0) return;
    // Encoded into one buffer sized exactly: a third faster than joining the rows into one string
    // and encoding that, and the batch goes to PostgreSQL as one CopyData message.
    const data = Buffer.allocUnsafe(size);
    let at = 0;
    for (const row of rows) at += data.write(row, at);
    const copy = this.copy ?? (await this.start());
    if (this.copyError) throw this.copyError;
    if (!copy.write(data)) await drained(copy);
  }

  /** Ends the COPY, fills in the files row and commits. */
  async commit(v: Pick<FileRow, "bytes" | "sha256" | "item_count" | "format">): Promise<FileRow> {
    const copy = this.copy ?? (await this.start());
    copy.end();
    await finished(copy);
    const copied = (copy as Writable & { rowCount?: number }).rowCount;
    if (copied !== v.item_count) throw new Error(`COPY wrote ${copied} items, the parser accepted ${v.item_count}`);
    const row = await finishUpload(this.trx!, this.row.id, v);
    await this.trx!.commit();
    return row;
  }

  /** Undoes everything written so far; safe to call at any point, and after a failed commit. */
  async abort(): Promise<void> {
    const { copy, trx } = this;
    if (copy && !copy.closed) {
      copy.destroy(); // sends CopyFail, which ends the COPY so the connection can roll back
      await finished(copy).catch(() => undefined);
    }
    if (trx && !trx.isCompleted()) await trx.rollback();
  }

  private async start(): Promise<Writable> {
    this.trx = await this.db.transaction();
    await insertFile(this.trx, this.row); // first: the items' foreign key needs it
    const copy = await startFileItemsCopy(this.trx);
    // Without a listener a failed COPY would crash the process; it is rethrown on the next write.
    copy.on("error", (e: Error) => (this.copyError ??= e));
    this.copy = copy;
    return copy;
  }
}

/** Waits for 'drain', or fails if the stream errors or closes first (a drain that never comes would hang the upload). */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off("drain", onDrain).off("error", done).off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(stream.errored ?? new Error("the stream closed while data was still being written"));
    stream.on("drain", onDrain).on("error", done).on("close", onClose);
  });
}

// jsonb has no U+0000 and no unpaired surrogates; JSON.parse accepts both (as \u escapes), and
// JSON.stringify writes both back as \u escapes, so this cheap test on the text finds every candidate.
const SUSPECT = /\\u(?:0000|d[89a-f])/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why PostgreSQL would refuse this item, or undefined. A refusal at COPY time would be a 500. */
export function unstorable(json: string, item: unknown): string | undefined {
  if (!SUSPECT.test(json)) return undefined;
  let found: string | undefined;
  const visit = (s: string) => {
    if (found) return;
    if (s.includes("\u0000")) found = "the line contains a NUL character (\\u0000), which can't be stored; remove it";
    else if (LONE_SURROGATE.test(s)) found = "the line contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape), which is not valid Unicode";
  };
  const walk = (v: unknown): void => {
    if (typeof v === "string") visit(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) (visit(k), walk(x));
  };
  walk(item);
  return found;
}
