import type { Db } from "../connection.js";

export interface OrgRow {
  id: string;
  name: string;
  billing_email: string | null;
  created_at: Date;
}

export async function insertOrg(db: Db, row: Pick<OrgRow, "id" | "name" | "billing_email">): Promise<OrgRow> {
  const [org] = await db<OrgRow>("orgs").insert(row).returning("*");
  return org as OrgRow;
}

export async function getOrg(db: Db, id: string): Promise<OrgRow | undefined> {
  return db<OrgRow>("orgs").where({ id }).first();
}

export async function insertUser(db: Db, row: { id: string; org_id: string; email: string; password_hash: string }): Promise<void> {
  await db("users").insert(row);
}

export async function emailTaken(db: Db, email: string): Promise<boolean> {
  const row = await db("users").whereRaw("lower(email) = lower(?)", [email]).first("id");
  return Boolean(row);
}
