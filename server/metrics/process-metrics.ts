import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Db } from "../../db/connection.js";
import { BucketHistogram } from "./bucket-histogram.js";

/**
 * The metrics this process records as things happen: HTTP requests, job runs, item outcomes, plus
 * prom-client's default process metrics. Module-level because they are counted deep in code paths
 * (a job wrapper, the result writer) that have no request context to carry a registry through; each
 * process has one set, which is what Prometheus scrapes per target. The gauges read from the
 * database at scrape time live in scrape-gauges.ts, one set per app.
 */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry });

/** Observed on every request, polls included: a BucketHistogram, which records for a fraction of prom-client's cost. */
export const httpRequestSeconds = new BucketHistogram(
  "batchrouter_http_request_duration_seconds",
  "HTTP request latency, until the response is fully sent. route is the router's pattern (/v1/batches/:id), or 'unmatched'.",
  ["method", "route", "status_class"] as const,
  // Dense below 50 ms: the polling hot path targets a p99 of 20 ms.
  [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  [processRegistry],
);

export const jobWaitSeconds = new Histogram({
  name: "batchrouter_job_wait_seconds",
  help: "Time a job waited in its pg-boss queue: from when it was due (created, or its scheduled start) to when a worker started it.",
  labelNames: ["queue"] as const,
  buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [processRegistry],
});

export const jobRunSeconds = new Histogram({
  name: "batchrouter_job_run_seconds",
  help: "Time a job's handler ran, by queue and outcome (completed, or failed: pg-boss retries it).",
  labelNames: ["queue", "outcome"] as const,
  buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
  registers: [processRegistry],
});

export const itemsTotal = new Counter({
  name: "batchrouter_items_total",
  help: "Batch items ended by this worker, by lane and outcome (completed or failed); items/s is rate() of it.",
  labelNames: ["lane", "outcome"] as const,
  registers: [processRegistry],
});

/**
 * Counts items that ended on `lane`. Inside a transaction the count waits for the commit, so a
 * rolled-back write (to be retried) is never counted.
 */
export function countItems(lane: string, outcome: "completed" | "failed", n: number, trx?: Db): void {
  if (n <= 0) return;
  const committed = trx?.isTransaction ? (trx as Db & { executionPromise?: Promise<unknown> }).executionPromise : undefined;
  if (!committed) {
    itemsTotal.inc({ lane, outcome }, n);
    return;
  }
  committed.then(
    () => itemsTotal.inc({ lane, outcome }, n),
    () => undefined,
  );
}
