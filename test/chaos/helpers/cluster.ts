import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PgBoss } from "pg-boss";
import { createBoss } from "../../../server/jobs/boss.js";
import { runTs, type Running, waitForOutput } from "../../helpers/process.js";

/**
 * Platform processes for the chaos suite: each API or worker is a child process running
 * `server/main.ts --role=…` — the same entry and wiring as `npm start` — all on one database and one
 * data directory (the platform secret and the local artifact files live there, as they would on a
 * shared volume in production).
 */

export type Role = "api" | "worker";

export interface PlatformProcess extends Running {
  role: Role;
  /** The API's base URL (api role only). */
  base: string;
}

/** Settings every process of a chaos run shares; a test adds its own (simulator, providers…). */
const SHARED_ENV = {
  BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS: "1",
  // The suite hammers one key from many clients; limits are tested elsewhere.
  RATE_LIMIT_PER_KEY_PER_MIN: "1000000",
  RATE_LIMIT_PER_IP_PER_MIN: "1000000",
  AGENT_REGISTER_PER_IP_PER_HOUR: "1000",
  BATCHROUTER_RETRY_BASE_MS: "50",
  BATCHROUTER_SIMULATOR_TURNAROUND_MS: "500",
};

export class Cluster {
  readonly processes: PlatformProcess[] = [];
  private constructor(
    readonly databaseUrl: string,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
  ) {}

  static async create(databaseUrl: string, env: Record<string, string> = {}): Promise<Cluster> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-chaos-"));
    return new Cluster(databaseUrl, dataDir, env);
  }

  /** Starts one process of `role` and resolves once it serves (API) or polls its queues (worker). */
  async start(role: Role, env: Record<string, string> = {}): Promise<PlatformProcess> {
    const running = runTs("server/main.ts", [`--role=${role}`], {
      ...SHARED_ENV,
      // A worker announces itself only in its info log.
      LOG_LEVEL: role === "worker" ? "info" : "warn",
      ...this.env,
      ...env,
      DATABASE_URL: this.databaseUrl,
      BATCHROUTER_DATA_DIR: this.dataDir,
      PORT: "0",
    });
    const proc: PlatformProcess = Object.assign(running, { role, base: "" });
    this.processes.push(proc);
    try {
      if (role === "api") proc.base = (await waitForOutput(proc, /is running at (http:\/\/\S+)/, 90_000))[1]!;
      else await waitForOutput(proc, /BatchRouter worker is up/, 90_000);
    } catch (err) {
      // Name the signal too: a process killed from outside exits with no code and often no output.
      throw new Error(`${role} pid ${proc.child.pid} (signal ${proc.child.signalCode}): ${(err as Error).message}`);
    }
    return proc;
  }

  /** SIGKILL: no shutdown hook runs, in-flight jobs and transactions are simply cut off. */
  async kill(proc: PlatformProcess): Promise<void> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
    await proc.exited;
  }

  /** Every process still running (none should have died on its own). */
  alive(): PlatformProcess[] {
    return this.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => this.kill(p)));
    await fs.rm(this.dataDir, { recursive: true, force: true });
  }
}

/** A pg-boss handle for the test process itself (no workers, no maintenance loop). */
export async function testBoss(url: string): Promise<PgBoss> {
  const boss = createBoss(url, { supervise: false });
  boss.on("error", () => undefined);
  await boss.start();
  return boss;
}
