import type { Logger } from "../logger.js";
import type { DrainState } from "./drain-state.js";

/** What a process has to wind down; the composition root (server/main.ts) fills it per role. */
export interface ShutdownPlan {
  drain: DrainState;
  /** The bound on draining (SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
  /** Stop taking jobs and let the running ones finish within the bound (resolves when pg-boss has stopped). */
  stopJobs(timeoutMs: number): Promise<void>;
  /** Jobs still running here: any left at the bound are cut (pg-boss fails them back to their queue). */
  runningJobs(): number;
  /** Resolves true once no HTTP request is in flight, false if `timeoutMs` passes first. */
  httpIdle(timeoutMs: number): Promise<boolean>;
  /** Stop listening; `force` also cuts the connections of requests still running. */
  closeServers(force: boolean): Promise<void>;
  closeDatabase(): Promise<void>;
  exit(code: number): void;
}

/** After the drain, how long pg-boss gets to record its last jobs (or hand unfinished ones back) and close. */
const HAND_BACK_MS = 5_000;
/** Past bound + this, the process exits whatever is still closing (a database that won't stop, say). */
const WATCHDOG_SLACK_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * SIGTERM / SIGINT: drain, then stop. From the first signal /readyz answers 503 and new requests
 * and jobs are refused, while the requests and jobs already running get up to `timeoutMs` to finish.
 * Then the listeners and the database close and the process exits 0 — or 1 when the bound cut work
 * short (unfinished jobs are failed back to pg-boss and retried; cut requests are the client's to
 * retry). A second signal exits at once (128 + signal number, the shell's convention).
 */
export function handleShutdownSignals(plan: ShutdownPlan): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      plan.logger.warn({ signal }, "second signal: exiting now, without draining");
      plan.exit(signal === "SIGINT" ? 130 : 143);
      return;
    }
    started = true;
    void shutdown(plan, signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

async function shutdown(plan: ShutdownPlan, signal: string): Promise<void> {
  const { logger, timeoutMs } = plan;
  const began = Date.now();
  plan.drain.start();
  logger.info({ signal, timeout_ms: timeoutMs }, "draining: no new requests or jobs; waiting for the running ones");
  const watchdog = setTimeout(() => {
    logger.error("shutdown is stuck past its bound; exiting");
    plan.exit(1);
  }, timeoutMs + WATCHDOG_SLACK_MS);
  watchdog.unref();

  const jobsStopped = plan.stopJobs(timeoutMs).catch((err) => logger.error({ err }, "stopping the job queue failed"));
  // pg-boss looks at its running jobs every 500 ms, so its stop can resolve a little after the last
  // job ended: whether work was cut is read from the jobs still running at the bound, not from that.
  const [idle] = await Promise.all([plan.httpIdle(timeoutMs), Promise.race([jobsStopped, sleep(timeoutMs)])]);
  const drained = idle && plan.runningJobs() === 0;
  if (!drained) {
    logger.warn(
      { timeout_ms: timeoutMs },
      "shutdown bound reached: cutting the requests still running, returning unfinished jobs to the queue",
    );
  }
  try {
    await plan.closeServers(!drained);
    // pg-boss records the last completions (or fails what still runs back to the queue) and closes.
    await Promise.race([jobsStopped, sleep(HAND_BACK_MS)]);
    await plan.closeDatabase();
  } catch (err) {
    logger.error({ err }, "closing failed");
    plan.exit(1);
    return;
  }
  logger.info({ ms: Date.now() - began, drained }, "stopped");
  plan.exit(drained ? 0 : 1);
}
