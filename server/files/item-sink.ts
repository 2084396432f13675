import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Db, Trx } from "../../db/connection.js";
import { COPY_TRAILER, fileItemChunkTuple, finishUpload, insertFile, startFileItemChunksCopy, type FileRow } from "../../db/queries/files.js";
import type { ParsedItem } from "./manifest-parser.js";

type NewFileRow = Omit<FileRow, "created_at" | "deleted_at">;

/**
 * Writes an upload's items into `file_item_chunks` with a binary COPY, one row per parser batch,
 * inside one transaction that also holds the files row, so they appear together on commit or not
 * at all. The transaction is opened lazily at the first batch: a manifest that fails on its first
 * lines never takes a pool connection, and one that is being uploaded slowly only holds one once it
 * has items to write.
 */
export class ItemSink {
  private trx?: Trx;
  private copy?: Writable;
  private copyError?: Error;
  private seq = 0;
  private items = 0;

  constructor(
    private readonly db: Db,
    private readonly row: NewFileRow,
  ) {}

  /** The parser's onItems: one row for the batch, streamed into COPY (with backpressure). */
  async write(batch: ParsedItem[]): Promise<void> {
    if (batch.length === 0) return;
    const tuple = fileItemChunkTuple(this.row.id, this.seq++, this.items, batch.map((p) => p.line), batch.map((p) => p.json));
    this.items += batch.length;
    const copy = this.copy ?? (await this.start());
    if (this.copyError) throw this.copyError;
    if (!copy.write(tuple)) await drained(copy);
  }

  /** Ends the COPY, fills in the files row and commits. */
  async commit(v: Pick<FileRow, "bytes" | "sha256" | "item_count" | "format">): Promise<FileRow> {
    const copy = this.copy ?? (await this.start());
    copy.end(COPY_TRAILER);
    await finished(copy);
    const copied = (copy as Writable & { rowCount?: number }).rowCount;
    if (copied !== this.seq || this.items !== v.item_count) throw new Error(`COPY wrote ${copied} of ${this.seq} chunks, ${this.items} items; the parser accepted ${v.item_count}`);
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
    const copy = await startFileItemChunksCopy(this.trx);
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
