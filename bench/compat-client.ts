import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WorkloadRun } from "./compat-workload.js";

/** One run of the OpenAI-SDK workload, as compat-client-main.ts takes it. */
export interface ClientSpec {
  baseURL: string;
  apiKey: string;
  headers?: Record<string, string>;
  /** Where the file goes when this path can't take the upload (the provider itself). */
  fallback?: { baseURL: string; apiKey: string };
  lines: number;
  pollMs: number;
  deadlineMs: number;
  /** Also measure one batches.retrieve's median round trip on the finished batch. */
  probeRetrieve?: boolean;
}

/** Runs the workload in a child process (see compat-client-main.ts for why) and returns its result. */
export async function runClient(spec: ClientSpec): Promise<{ run: WorkloadRun; retrieveMs?: number }> {
  const entry = fileURLToPath(new URL("./compat-client-main.ts", import.meta.url));
  // execArgv carries tsx's loader, which is how this process runs TypeScript too.
  const child = spawn(process.execPath, [...process.execArgv, entry, JSON.stringify(spec)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += String(d);
  });
  child.stderr.on("data", (d) => {
    err = (err + String(d)).slice(-4000);
  });
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  if (code !== 0) throw new Error(`the workload client exited ${code}: ${err}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as { run: WorkloadRun; retrieveMs?: number };
}
