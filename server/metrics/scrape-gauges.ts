import { Gauge, Registry } from "prom-client";
import type { Db } from "../../db/connection.js";
import { type LedgerTotal, ledgerTotals } from "../../db/queries/ledger-totals.js";
import { BOSS_SCHEMA } from "../jobs/boss.js";
import { JOBS } from "../jobs/contracts.js";
import type { Logger } from "../logger.js";

/** A scrape must never hang on a busy database: each read gives up after this long. */
const SCRAPE_STATEMENT_TIMEOUT_MS = 2000;

const QUEUES = Object.values(JOBS).map((c) => c.name);

async function withTimeout<T>(db: Db, read: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw(`SET LOCAL statement_timeout = ${SCRAPE_STATEMENT_TIMEOUT_MS}`);
    return read(trx);
  });
}

/**
 * Jobs per pg-boss queue and state, in one pass over the job table. `queued` is due now (the backlog),
 * `deferred` waits for a start time (a poll scheduled later, a retry's backoff), `active` is running.
 */
async function queueDepths(db: Db): Promise<{ name: string; queued: number; deferred: number; active: number }[]> {
  const r = await db.raw(
    `SELECT name,
            count(*) FILTER (WHERE state < 'active' AND start_after <= now())::int AS queued,
            count(*) FILTER (WHERE state < 'active' AND start_after > now())::int AS deferred,
            count(*) FILTER (WHERE state = 'active')::int AS active
       FROM ${BOSS_SCHEMA}.job WHERE state <= 'active' GROUP BY name`,
  );
  return r.rows;
}

/**
 * The gauges read from PostgreSQL when Prometheus scrapes: queue depth and ledger totals. They are
 * the same from every process on one database — aggregate them with max(), not sum(). A read that
 * fails leaves its gauge empty for that scrape (and sets batchrouter_scrape_error) instead of failing
 * the whole scrape, so the process metrics still arrive when the database is the problem.
 */
export function createScrapeRegistry(db: Db, logger: Logger): Registry {
  const registry = new Registry();
  const scrapeError = new Gauge({
    name: "batchrouter_scrape_error",
    help: "1 when the last scrape could not read this source from the database (see the logs).",
    labelNames: ["source"] as const,
    registers: [registry],
  });
  const guarded = async (source: string, read: () => Promise<void>) => {
    try {
      await read();
      scrapeError.set({ source }, 0);
    } catch (err) {
      scrapeError.set({ source }, 1);
      logger.warn({ err, source }, "metrics scrape read failed");
    }
  };

  new Gauge({
    name: "batchrouter_queue_jobs",
    help: "pg-boss jobs per queue: state=queued (due, waiting for a worker), deferred (scheduled later), active (running).",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await guarded("queues", async () => {
        const rows = new Map((await withTimeout(db, queueDepths)).map((r) => [r.name, r]));
        // Every queue appears, empty ones at 0, so a dashboard sees the series before the first job.
        for (const queue of QUEUES) {
          const r = rows.get(queue);
          for (const state of ["queued", "deferred", "active"] as const) this.set({ queue, state }, r?.[state] ?? 0);
        }
      });
    },
  });

  // prom-client collects a registry's metrics concurrently: the three ledger gauges share one read
  // per scrape (the first collect starts it, the others join it).
  let ledgerRead: Promise<LedgerTotal[] | undefined> | null = null;
  const readLedger = () => {
    ledgerRead ??= (async () => {
      let rows: LedgerTotal[] | undefined;
      await guarded("ledger", async () => {
        rows = await withTimeout(db, ledgerTotals);
      });
      return rows;
    })().finally(() => setImmediate(() => (ledgerRead = null)));
    return ledgerRead;
  };
  const ledgerGauge = (name: string, help: string, value: (t: LedgerTotal) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["kind", "environment"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const t of (await readLedger()) ?? []) this.set({ kind: t.kind, environment: t.environment }, value(t));
      },
    });
  ledgerGauge(
    "batchrouter_ledger_available_micros",
    "Sum of ledger entries' available_delta by entry kind and environment, in micro-dollars (all orgs).",
    (t) => t.available_micros,
  );
  ledgerGauge(
    "batchrouter_ledger_reserved_micros",
    "Sum of ledger entries' reserved_delta by entry kind and environment, in micro-dollars (all orgs).",
    (t) => t.reserved_micros,
  );
  ledgerGauge("batchrouter_ledger_entries", "Ledger entries by kind and environment (all orgs).", (t) => t.entries);
  return registry;
}
