import type { Db } from "../connection.js";

export async function readDocuments(db: Db): Promise<Record<string, unknown>> {
  const rows = await db("catalog_documents").select("name", "doc");
  return Object.fromEntries(rows.map((r: { name: string; doc: unknown }) => [r.name, r.doc]));
}

/** Writes a document unless the stored one is identical (so updated_at means a real change). */
export async function upsertDocument(db: Db, name: string, doc: unknown): Promise<boolean> {
  const json = JSON.stringify(doc);
  const rows = await db.raw(
    `INSERT INTO catalog_documents (name, doc) VALUES (?, ?::jsonb)
     ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()
     WHERE catalog_documents.doc IS DISTINCT FROM EXCLUDED.doc
     RETURNING name`,
    [name, json],
  );
  return rows.rows.length === 1;
}

export interface LaneStatsRow {
  lane_id: string;
  items_succeeded: number;
  items_failed: number;
  retries: number;
  turnaround_p50_s: number | null;
  backlog_items: number;
  healthy: boolean;
}

export async function readLaneStats(db: Db): Promise<LaneStatsRow[]> {
  return db<LaneStatsRow>("lane_stats").select("*");
}
