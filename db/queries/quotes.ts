import type { Db } from "../connection.js";

export interface QuoteRow {
  id: string;
  org_id: string;
  environment: "live" | "test";
  kind: "items" | "volume" | "workflow";
  workflow_slug: string | null;
  expires_at: Date;
  items_fingerprint: string | null;
  item_count: number;
  provider_subtotal_micros: number;
  fee_micros: number;
  discount_micros: number;
  total_micros: number;
  fee_rate_bps: number;
  constraints: Record<string, unknown>;
  locked_lanes: Record<string, { input_per_mtok_micros: number; output_per_mtok_micros: number }>;
  plan: { lane_id: string; item_indexes: number[]; fallback_order: string[]; estimated_cost_micros: number }[];
  response: Record<string, unknown>;
  batch_id: string | null;
  accepted_at: Date | null;
  created_at: Date;
}

export async function insertQuote(db: Db, row: Omit<QuoteRow, "batch_id" | "accepted_at" | "created_at">): Promise<void> {
  await db("quotes").insert({
    ...row,
    constraints: JSON.stringify(row.constraints),
    locked_lanes: JSON.stringify(row.locked_lanes),
    plan: JSON.stringify(row.plan),
    response: JSON.stringify(row.response),
  });
}

export async function getQuote(db: Db, orgId: string, environment: string, id: string): Promise<QuoteRow | undefined> {
  return db<QuoteRow>("quotes")
    .where({ id, org_id: orgId, environment: environment as QuoteRow["environment"] })
    .first();
}
