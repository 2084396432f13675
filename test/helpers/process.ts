import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { waitFor } from "./wait.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs a TypeScript entry point of this repo the way `npm start` does (node + tsx). */
export function runTs(entry: string, args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Resolves when `pattern` appears in the output; rejects (with the output) if the process exits first or time runs out. */
export async function waitForOutput(r: Running, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  let exitCode: number | null | undefined;
  void r.exited.then((c) => (exitCode = c));
  try {
    return await waitFor(
      () => {
        const m = pattern.exec(r.output());
        if (m) return m;
        if (exitCode !== undefined) throw new Error(`process exited (${exitCode}) before ${pattern}`);
        return undefined;
      },
      timeoutMs,
      `${pattern} in the process output`,
    );
  } catch (err) {
    // What the process said is the clue to why it never got there.
    throw new Error(`${(err as Error).message}:\n${r.output()}`);
  }
}

export async function runToEnd(entry: string, args: string[], env: Record<string, string>) {
  const r = runTs(entry, args, env);
  const code = await r.exited;
  return { code, output: r.output() };
}

export { freePort } from "../../db/embedded-process.js";
