import type { Db, Trx } from "../../db/connection.js";
import { BinaryCopy } from "../../db/copy-binary.js";
import { FILE_ITEM_CHUNK_COLUMNS, finishUpload, insertFile, type FileRow } from "../../db/queries/files.js";
import type { ParsedItem } from "./manifest-parser.js";

type NewFileRow = Omit<FileRow, "created_at" | "deleted_at" | "expires_at">;

/**
 * Writes an upload's items into `file_item_chunks` with a binary COPY, one row per parser batch,
 * inside one transaction that also holds the files row, so they appear together on commit or not
 * at all. The transaction is opened lazily at the first batch: a manifest that fails on its first
 * lines never takes a pool connection, and one that is being uploaded slowly only holds one once it
 * has items to write.
 */
export class ItemSink {
  private trx?: Trx;
  private copy?: BinaryCopy;
  private seq = 0;
  private items = 0;

  constructor(
    private readonly db: Db,
    private readonly row: NewFileRow,
  ) {}

  /** The parser's onItems: one row for the batch, streamed into COPY (with backpressure). */
  async write(batch: ParsedItem[], texts: Buffer): Promise<void> {
    if (batch.length === 0) return;
    const copy = this.copy ?? (await this.start());
    copy.rows
      .row(5)
      .text(this.row.id)
      .int4(this.seq++)
      .int4(this.items)
      .int4Array(batch.map((p) => p.line));
    this.items += batch.length;
    await copy.textBytes(texts);
  }

  /** Ends the COPY, fills in the files row and commits. */
  async commit(v: Pick<FileRow, "bytes" | "sha256" | "item_count" | "format"> & { expires_at?: Date | null }): Promise<FileRow> {
    const copy = this.copy ?? (await this.start());
    const copied = await copy.end();
    if (copied !== this.seq || this.items !== v.item_count)
      throw new Error(`COPY wrote ${copied} of ${this.seq} chunks, ${this.items} items; the parser accepted ${v.item_count}`);
    const row = await finishUpload(this.trx!, this.row.id, v);
    await this.trx!.commit();
    return row;
  }

  /** Undoes everything written so far; safe to call at any point, and after a failed commit. */
  async abort(): Promise<void> {
    await this.copy?.abort();
    if (this.trx && !this.trx.isCompleted()) await this.trx.rollback();
  }

  private async start(): Promise<BinaryCopy> {
    this.trx = await this.db.transaction();
    await insertFile(this.trx, this.row); // first: the items' foreign key needs it
    this.copy = await BinaryCopy.start(this.trx, "file_item_chunks", FILE_ITEM_CHUNK_COLUMNS);
    return this.copy;
  }
}
