import type { Knex } from "knex";
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
  /** When set, the file is gone from then on (migration 0014). */
  expires_at: Date | null;
}

/** Rows a reader may see: not deleted, not expired. */
const live = (db: Db, q: Knex.QueryBuilder) =>
  q.whereNull("deleted_at").andWhere((w) => w.whereNull("expires_at").orWhere("expires_at", ">", db.fn.now()));

export async function insertFile(db: Db, row: Omit<FileRow, "created_at" | "deleted_at" | "expires_at">): Promise<FileRow> {
  const [f] = await db("files").insert(row).returning("*");
  return f as FileRow;
}

/** Fills in what an upload only knows once its body has been read (the row was inserted first, for the items' foreign key). */
export async function finishUpload(
  db: Db,
  id: string,
  v: Pick<FileRow, "bytes" | "sha256" | "item_count" | "format"> & { expires_at?: Date | null },
): Promise<FileRow> {
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
  return live(db, db<FileRow>("files").where({ id, org_id: orgId, environment: environment as FileRow["environment"] })).first();
}

export async function listFiles(
  db: Db,
  orgId: string,
  environment: string,
  limit: number,
  beforeId?: string,
  purpose?: string,
): Promise<FileRow[]> {
  const q = live(db, db<FileRow>("files").where({ org_id: orgId, environment: environment as FileRow["environment"] }))
    .orderBy("id", "desc")
    .limit(limit);
  if (beforeId) q.andWhere("id", "<", beforeId);
  if (purpose) q.andWhere("purpose", purpose);
  return q;
}

/** A page of live files in id order either way (ids sort by creation), after a keyset cursor, of some purposes. */
export async function listFilesPage(
  db: Db,
  orgId: string,
  environment: string,
  q: { limit: number; after?: string; asc: boolean; purposes?: string[] },
): Promise<FileRow[]> {
  const query = live(db, db<FileRow>("files").where({ org_id: orgId, environment: environment as FileRow["environment"] }))
    .orderBy("id", q.asc ? "asc" : "desc")
    .limit(q.limit);
  if (q.after) query.andWhere("id", q.asc ? ">" : "<", q.after);
  if (q.purposes) query.whereIn("purpose", q.purposes);
  return query;
}

/**
 * Marks the caller's file deleted and drops its items, in one transaction. Only one of two racing
 * deletes sees the row still live, so the other gets undefined (→ 404), like any later delete.
 */
export async function deleteOwnFile(db: Db, orgId: string, environment: string, id: string): Promise<FileRow | undefined> {
  return db.transaction(async (trx) => {
    const [row] = await live(trx, trx("files").where({ id, org_id: orgId, environment }))
      .update({ deleted_at: trx.fn.now() })
      .returning("*");
    if (row) await trx("file_item_chunks").where({ file_id: id }).delete();
    return row as FileRow | undefined;
  });
}

/**
 * Up to `limit` files whose time has come, each marked deleted with its items dropped (one
 * transaction each): housekeeping then deletes their stored bytes.
 */
export async function takeExpiredFiles(db: Db, limit: number): Promise<Pick<FileRow, "id" | "storage_key" | "purpose">[]> {
  return db.transaction(async (trx) => {
    const due = trx("files")
      .whereNull("deleted_at")
      .andWhere("expires_at", "<=", trx.fn.now())
      .orderBy("expires_at")
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select("id");
    const rows: Pick<FileRow, "id" | "storage_key" | "purpose">[] = await trx("files")
      .whereIn("id", due)
      .update({ deleted_at: trx.fn.now() })
      .returning(["id", "storage_key", "purpose"]);
    if (rows.length)
      await trx("file_item_chunks")
        .whereIn(
          "file_id",
          rows.map((r) => r.id),
        )
        .delete();
    return rows;
  });
}

/** A file's items in order: each chunk's newline-separated JSON texts, parsed as one JSON array. */
export async function fileItems(db: Db, fileId: string): Promise<unknown[]> {
  const rows: { items: string }[] = await db("file_item_chunks").where({ file_id: fileId }).orderBy("seq").select("items");
  const out: unknown[] = [];
  for (const r of rows) for (const item of JSON.parse(`[${r.items.replaceAll("\n", ",")}]`) as unknown[]) out.push(item);
  return out;
}

/** One stored chunk of a manifest: its items parsed, with their manifest positions and line numbers. */
export interface FileItemChunk {
  first_idx: number;
  lines: number[];
  items: unknown[];
}

/**
 * A file's items chunk by chunk, in order, a few chunks per query: a million-line manifest is read
 * with a few MB in memory at a time. The next query runs while the chunks of the last are worked
 * through, so the reader doesn't wait on each (~0.2 s of a 300,000-item batch's preparation).
 * The file must not change meanwhile (stored files never do).
 */
export async function* fileItemChunks(db: Db, fileId: string, chunksPerQuery = 8): AsyncGenerator<FileItemChunk> {
  type Row = { seq: number; first_idx: number; lines: number[]; items: string };
  const page = (after: number): Promise<Row[]> =>
    db("file_item_chunks")
      .where({ file_id: fileId })
      .andWhere("seq", ">", after)
      .orderBy("seq")
      .limit(chunksPerQuery)
      .select("seq", "first_idx", "lines", "items");
  let next: Promise<Row[]> | null = page(-1);
  try {
    while (next) {
      const rows: Row[] = await next;
      next = rows.length < chunksPerQuery ? null : page(rows[rows.length - 1]!.seq);
      for (const r of rows) {
        yield { first_idx: r.first_idx, lines: r.lines, items: JSON.parse(`[${r.items.replaceAll("\n", ",")}]`) as unknown[] };
      }
    }
  } finally {
    // A reader that stopped early leaves the read ahead unawaited: its failure is nobody's to report.
    next?.catch(() => undefined);
  }
}

/** A file's first item (its first chunk's first line), parsed; undefined for a file without items. */
export async function firstFileItem(db: Db, fileId: string): Promise<Record<string, unknown> | undefined> {
  const row: { first: string } | undefined = await db("file_item_chunks")
    .where({ file_id: fileId, seq: 0 })
    .first(db.raw("split_part(items, E'\\n', 1) AS first"));
  return row ? (JSON.parse(row.first) as Record<string, unknown>) : undefined;
}

/** The columns an upload writes (binary COPY, server/files/item-sink.ts); `items` are newline-joined JSON texts. */
export const FILE_ITEM_CHUNK_COLUMNS = ["file_id", "seq", "first_idx", "lines", "items"] as const;
