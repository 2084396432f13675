import type { Db } from "../connection.js";

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

/** A batch's result file of one purpose (`batch_output`…), if written. */
export async function findBatchFile(db: Db, batchId: string, purpose: string): Promise<Pick<FileRow, "id"> | undefined> {
  return db("files").where({ batch_id: batchId, purpose }).first("id");
}

/** A rewritten result file's new size and hash. */
export async function updateFileContent(db: Db, id: string, v: Pick<FileRow, "bytes" | "sha256">): Promise<void> {
  await db("files").where({ id }).update({ bytes: v.bytes, sha256: v.sha256 });
}

export async function getFile(db: Db, orgId: string, environment: string, id: string): Promise<FileRow | undefined> {
  return db<FileRow>("files")
    .where({ id, org_id: orgId, environment: environment as FileRow["environment"] })
    .whereNull("deleted_at")
    .first();
}

export async function listFiles(
  db: Db,
  orgId: string,
  environment: string,
  limit: number,
  beforeId?: string,
  purpose?: string,
): Promise<FileRow[]> {
  const q = db<FileRow>("files")
    .where({ org_id: orgId, environment: environment as FileRow["environment"] })
    .whereNull("deleted_at")
    .orderBy("id", "desc")
    .limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  if (purpose) q.andWhere("purpose", purpose);
  return q;
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

/** The columns an upload writes (binary COPY, server/files/item-sink.ts); `items` are newline-joined JSON texts. */
export const FILE_ITEM_CHUNK_COLUMNS = ["file_id", "seq", "first_idx", "lines", "items"] as const;
