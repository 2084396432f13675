import { spawn } from "node:child_process";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { OpenAiFakeOptions } from "../test/fakes/openai-fake.js";

/** One request the fake received: `at` is its Date.now() on arrival (same clock as this process). */
export interface FakeRequest {
  method: string;
  path: string;
  at: number;
  status: number | null;
}

export interface FakeProcess {
  /** "http://127.0.0.1:PORT", without /v1. */
  baseUrl: string;
  /** The fake's request log so far. */
  requests(): Promise<FakeRequest[]>;
  close(): Promise<void>;
}

/** Starts test/fakes/openai-fake.ts in a child process (see openai-fake-main.ts for why). */
export async function startFakeProcess(opts: OpenAiFakeOptions): Promise<FakeProcess> {
  const entry = fileURLToPath(new URL("./openai-fake-main.ts", import.meta.url));
  // execArgv carries tsx's loader, which is how this process runs TypeScript too.
  const child = spawn(process.execPath, [...process.execArgv, entry, JSON.stringify(opts)], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const nextLine = () =>
    Promise.race([
      new Promise<string>((r) => waiting.push(r)),
      exited.then(() => {
        throw new Error(`the OpenAI fake's process exited ${child.exitCode}`);
      }),
    ]);
  const { baseUrl } = JSON.parse(await nextLine()) as { baseUrl: string };
  return {
    baseUrl,
    async requests() {
      const answer = nextLine();
      child.stdin!.write("requests\n");
      return (JSON.parse(await answer) as { requests: FakeRequest[] }).requests;
    },
    async close() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
