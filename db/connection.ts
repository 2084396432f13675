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

/** Side pools of each handle (see sidePool), destroyed with it. */
const sidePools = new WeakMap<Db, Map<string, Db>>();

/** A knex handle on one PostgreSQL database. */
export function connect(url: string, pool: { min?: number; max?: number } = {}): Db {
  const db = knexFactory({
    client: "pg",
    connection: url,
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
  });
  // Whoever owns the handle closes its side pools by closing it (shutdown, tests, benchmarks alike).
  const destroy = db.destroy.bind(db);
  Object.defineProperty(db, "destroy", {
    configurable: true,
    value: async () => {
      const own = sidePools.get(db);
      sidePools.delete(db);
      await Promise.all([...(own?.values() ?? [])].map((side) => side.destroy().catch(() => undefined)));
      return destroy();
    },
  });
  return db;
}

const quiet = () => undefined;

export interface SidePoolOptions {
  max: number;
  /** Bounds acquiring a connection, connecting, and each statement: a side pool fails fast, never queues long. */
  timeoutMs: number;
}

/**
 * A small pool of its own on `db`'s database, for work that must not queue behind `db`'s pool —
 * the rate limiter's sync, which a big batch holding every main connection would otherwise stall
 * (knex waits up to 60 s for a connection). One per `name`, shown as `batchrouter-<name>` in
 * pg_stat_activity, destroyed along with `db`. A handle whose connection is a function (it can't be
 * copied) gets `db` itself.
 */
export function sidePool(db: Db, name: string, opts: SidePoolOptions): Db {
  const config = (db.client as { config?: Knex.Config }).config?.connection;
  if (!(db.client as { pool?: unknown }).pool || !config || typeof config === "function") return db;
  let own = sidePools.get(db);
  if (!own) sidePools.set(db, (own = new Map()));
  const existing = own.get(name);
  if (existing) return existing;
  const base: pg.ClientConfig =
    typeof config === "string"
      ? { connectionString: config }
      : // knex keeps the password non-enumerable (out of logs), so a spread alone would drop it.
        { ...(config as pg.ClientConfig), password: (config as pg.ClientConfig).password };
  const side = knexFactory({
    client: "pg",
    connection: {
      ...base,
      application_name: `batchrouter-${name}`,
      connectionTimeoutMillis: opts.timeoutMs,
      statement_timeout: opts.timeoutMs,
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: opts.max },
    acquireConnectionTimeout: opts.timeoutMs,
    // knex would print every failed acquire to the console; the side pool's user reports failures itself.
    log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet },
  });
  own.set(name, side);
  return side;
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
