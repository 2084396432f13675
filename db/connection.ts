import knexFactory, { type Knex } from "knex";
import pg from "pg";

export type Db = Knex;
export type Trx = Knex.Transaction;

// int8 columns hold micro-dollars and counts; they fit in a double exactly up to 2^53 (≈ $9 billion),
// and a value past that must fail loudly rather than lose cents.
pg.types.setTypeParser(20, (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${v} exceeds the safe integer range`);
  return n;
});

/** A knex handle on one PostgreSQL database. */
export function connect(url: string, pool: { min?: number; max?: number } = {}): Db {
  return knexFactory({
    client: "pg",
    connection: url,
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
  });
}

/** The same server URL pointed at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** CREATE DATABASE unless it exists (run on the maintenance database). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (e) {
    // Two processes starting together may both try; the loser sees duplicate_database.
    if ((e as { code?: string }).code !== "42P04") throw e;
  } finally {
    await client.end();
  }
}
