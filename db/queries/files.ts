import { from as copyFrom } from "pg-copy-streams";
import type { Writable } from "node:stream";
import type { Db, Trx } from "../connection.js";

export interface FileRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  purpose: string;
  filename: string;
  bytes: number;
  sha256: string;
  item_count: number | null;
  format: string | null;
  storage_key: string;
  batch_id: string | null;
  created_at: Date;
  deleted_at: Date | null;
}

export async function insertFile(db: Db, row: Omit<FileRow, "created_at" | "deleted_at">): Promise<FileRow> {
  const [f] = await db("files").insert(row).returning("*");
  return f as FileRow;
}

/** Fills in what an upload only knows once its body has been read (the row was inserted first, for the items' foreign key). */
export async function finishUpload(db: Db, id: string, v: Pick<FileRow, "bytes" | "sha256" | "item_count" | "format">): Promise<FileRow> {
  const [f] = await db("files").where({ id }).update(v).returning("*");
  return f as FileRow;
}

export async function getFile(db: Db, orgId: string, environment: string, id: string): Promise<FileRow | undefined> {
  return db<FileRow>("files").where({ id, org_id: orgId, environment: environment as FileRow["environment"] }).whereNull("deleted_at").first();
}

export async function listFiles(db: Db, orgId: string, environment: string, limit: number, beforeId?: string, purpose?: string): Promise<FileRow[]> {
  const q = db<FileRow>("files").where({ org_id: orgId, environment: environment as FileRow["environment"] }).whereNull("deleted_at").orderBy("id", "desc").limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  if (purpose) q.andWhere("purpose", purpose);
  return q;
}

export async function markDeleted(db: Db, id: string): Promise<void> {
  await db("files").where({ id }).update({ deleted_at: db.fn.now() });
  await db("file_item_chunks").where({ file_id: id }).delete();
}

/**
 * Marks the caller's file deleted and drops its items, in one transaction. Only one of two racing
 * deletes sees the row still live, so the other gets undefined (→ 404), like any later delete.
 */
export async function deleteOwnFile(db: Db, orgId: string, environment: string, id: string): Promise<FileRow | undefined> {
  return db.transaction(async (trx) => {
    const [row] = await trx("files")
      .where({ id, org_id: orgId, environment })
      .whereNull("deleted_at")
      .update({ deleted_at: trx.fn.now() })
      .returning("*");
    if (row) await trx("file_item_chunks").where({ file_id: id }).delete();
    return row as FileRow | undefined;
  });
}

/** A file's items in order: each chunk's newline-separated JSON texts, parsed as one JSON array. */
export async function fileItems(db: Db, fileId: string): Promise<unknown[]> {
  const rows: { items: string }[] = await db("file_item_chunks").where({ file_id: fileId }).orderBy("seq").select("items");
  const out: unknown[] = [];
  for (const r of rows) for (const item of JSON.parse(`[${r.items.replaceAll("\n", ",")}]`) as unknown[]) out.push(item);
  return out;
}

/**
 * Starts a binary `COPY file_item_chunks FROM STDIN` on the transaction's own connection (a knex
 * transaction's client hands out the one connection the transaction runs on), so the rows commit or
 * roll back with the files row. Write tuples made by `fileItemChunkTuple`, then `end(COPY_TRAILER)`;
 * `destroy()` sends CopyFail. Nothing else may run on `trx` until the stream has closed.
 *
 * Binary, not text: the items go to PostgreSQL as the bytes the client sent, with no escaping of the
 * backslashes JSON is full of, and PostgreSQL does no unescaping.
 */
export async function startFileItemChunksCopy(trx: Trx): Promise<Writable> {
  const connection = (await (trx as unknown as { client: { acquireConnection(): Promise<{ query(q: unknown): Writable }> } }).client.acquireConnection());
  // A few chunks of slack: PostgreSQL ingests in bursts, and the parser can keep going meanwhile.
  const copy = connection.query(copyFrom("COPY file_item_chunks (file_id, seq, first_idx, lines, items) FROM STDIN (FORMAT binary)", { highWaterMark: 4 * 1024 * 1024 }));
  copy.write(COPY_HEADER);
  return copy;
}

// The binary COPY format (PostgreSQL docs, "COPY — Binary Format"): signature, flags, no extension.
const COPY_HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
/** Ends a binary COPY: a field count of -1. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const INT4_OID = 23;

/**
 * One binary-format row of file_item_chunks. `items` are the items' JSON texts (UTF-8, checked by
 * the parser; none contains a newline), stored joined by newlines.
 */
export function fileItemChunkTuple(fileId: string, seq: number, firstIdx: number, lines: readonly number[], items: readonly Buffer[]): Buffer {
  const n = items.length;
  let itemsLen = n - 1;
  for (const b of items) itemsLen += b.length;
  const idLen = Buffer.byteLength(fileId);
  const arrayLen = 20 + 8 * n; // ndim, has-nulls, element oid, dimension, lower bound; then length + value per element
  const out = Buffer.allocUnsafe(2 + 4 + idLen + 8 + 8 + 4 + arrayLen + 4 + itemsLen);
  let at = out.writeInt16BE(5, 0);
  at = out.writeInt32BE(idLen, at);
  at += out.write(fileId, at);
  at = out.writeInt32BE(4, at);
  at = out.writeInt32BE(seq, at);
  at = out.writeInt32BE(4, at);
  at = out.writeInt32BE(firstIdx, at);
  at = out.writeInt32BE(arrayLen, at);
  at = out.writeInt32BE(1, at);
  at = out.writeInt32BE(0, at);
  at = out.writeInt32BE(INT4_OID, at);
  at = out.writeInt32BE(n, at);
  at = out.writeInt32BE(1, at);
  for (const line of lines) {
    at = out.writeInt32BE(4, at);
    at = out.writeInt32BE(line, at);
  }
  at = out.writeInt32BE(itemsLen, at);
  for (let i = 0; i < n; i++) {
    if (i > 0) out[at++] = 10;
    at += items[i]!.copy(out, at);
  }
  return out;
}
