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

export async function fileItems(db: Db, fileId: string): Promise<unknown[]> {
  const rows = await db("file_items").where({ file_id: fileId }).orderBy("idx").select("item");
  return rows.map((r: { item: unknown }) => r.item);
}
