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
  await db("file_items").where({ file_id: id }).delete();
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
    if (row) await trx("file_items").where({ file_id: id }).delete();
    return row as FileRow | undefined;
  });
}

export async function fileItems(db: Db, fileId: string): Promise<unknown[]> {
  const rows = await db("file_items").where({ file_id: fileId }).orderBy("idx").select("item");
  return rows.map((r: { item: string }) => JSON.parse(r.item) as unknown);
}

/**
 * Starts `COPY file_items FROM STDIN` on the transaction's own connection (a knex transaction's
 * client hands out the one connection the transaction runs on), so the rows commit or roll back
 * with the files row. Write lines made by `fileItemCopyLine`; `end()` finishes, `destroy()` sends
 * CopyFail. Nothing else may run on `trx` until the stream has closed.
 */
export async function startFileItemsCopy(trx: Trx): Promise<Writable> {
  const connection = (await (trx as unknown as { client: { acquireConnection(): Promise<{ query(q: unknown): Writable }> } }).client.acquireConnection());
  // A few batches of slack: PostgreSQL ingests in bursts, and the parser can keep going meanwhile.
  return connection.query(copyFrom("COPY file_items (file_id, idx, line, item) FROM STDIN", { highWaterMark: 4 * 1024 * 1024 }));
}

// COPY's text format gives backslash, tab, newline and CR a meaning. JSON.stringify never emits a
// raw control character, but it does emit backslashes (every escape in a string), so those are
// always doubled; the others are escaped too so that correctness does not rest on that detail.
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * One COPY text-format row; `itemJson` is the item's JSON text, `plain` that the caller already knows
 * it has no special character. File ids are `file_` + ULID, never special.
 */
export function fileItemCopyLine(fileId: string, idx: number, line: number, itemJson: string, plain = false): string {
  const json = plain || !COPY_SPECIAL.test(itemJson) ? itemJson : itemJson.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!);
  return `${fileId}\t${idx}\t${line}\t${json}\n`;
}
