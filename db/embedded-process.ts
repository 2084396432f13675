/**
 * Process-level helpers for the embedded PostgreSQL: running initdb/postgres with readable
 * failures, reading postmaster.pid, probing a server by connecting, and waiting for a pid to die.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import type { RunAs } from "./embedded-binaries.js";

/** Keeps the last lines a child printed so a failure can say why; forwards each line to `log`. */
export class OutputTail {
  private lines: string[] = [];
  private partial = "";
  constructor(
    private readonly log: (line: string) => void,
    private readonly keep = 40,
  ) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) this.add(line);
  }

  /** The lines that explain a failure (FATAL, ERROR, ...), or the last few when none do. */
  reason(): string {
    if (this.partial) this.add(this.partial), (this.partial = "");
    const telling = this.lines.filter((l) => /FATAL|PANIC|ERROR|error|could not|cannot|denied/.test(l));
    return (telling.length ? telling.slice(-4) : this.lines.slice(-4)).join(" | ") || "(no output)";
  }

  private add(line: string): void {
    if (!line.trim()) return;
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.shift();
    this.log(line);
  }
}

/** What to do about a failure, from the words PostgreSQL used. */
export function hintFor(reason: string, port?: number): string {
  if (/Address already in use/i.test(reason)) {
    return ` (port ${port} is taken by another process: choose another port or stop that process)`;
  }
  if (/Permission denied|EACCES/i.test(reason)) {
    return (
      " (the OS user running PostgreSQL can't reach a file or folder: set BATCHROUTER_DATA_DIR " +
      "to a folder every user can traverse, e.g. /var/lib/batchrouter, or set DATABASE_URL)"
    );
  }
  if (/exists but is not empty/.test(reason)) {
    return " (that folder holds other files: point BATCHROUTER_DATA_DIR at a new or empty folder)";
  }
  return "";
}

/** Environment for the binaries: fixed C locale so messages and collation don't depend on the host. */
export function pgEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

/** Spawns a binary as `who`; a spawn failure (EACCES, ENOENT) arrives as the 'error' event we hold. */
export function spawnPg(file: string, args: string[], who: RunAs | null, cwd: string, detached: boolean): ChildProcess {
  return spawn(file, args, {
    cwd,
    env: pgEnv(),
    detached,
    stdio: ["ignore", "pipe", "pipe"],
    ...(who ?? {}),
  });
}

/** Runs a binary to completion; rejects with its reason and a hint. */
export function runToEnd(file: string, args: string[], who: RunAs | null, cwd: string, log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail = new OutputTail(log);
    const child = spawnPg(file, args, who, cwd, false);
    child.stdout?.on("data", (c: Buffer) => tail.push(c));
    child.stderr?.on("data", (c: Buffer) => tail.push(c));
    child.on("error", (err) => reject(new Error(`can't run ${file}: ${err.message}${hintFor(err.message)}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve();
      const reason = tail.reason();
      reject(new Error(`${path.basename(file)} failed (${signal ?? `exit ${code}`}): ${reason}${hintFor(reason)}`));
    });
  });
}

/** postmaster.pid: line 1 the pid, line 2 the data dir, line 4 the port, line 8 the status. */
export interface PidFile {
  pid: number;
  port: number;
  status: string;
}

export async function readPidFile(dataDir: string): Promise<PidFile | null> {
  const raw = await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => null);
  if (!raw) return null;
  const lines = raw.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, port: Number.isInteger(port) ? port : 0, status: (lines[7] ?? "").trim() };
}

/** /proc/<pid>/stat fields after the command name (state, ppid, ...); null off Linux or when gone. */
async function procStat(pid: number): Promise<string[] | null> {
  const raw = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return raw ? raw.slice(raw.lastIndexOf(")") + 2).split(" ") : null;
}

/** Alive and not a zombie (an orphan's exit may go unreaped by a container's pid 1). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = await procStat(pid);
  return stat ? stat[0] !== "Z" : true;
}

export async function parentPid(pid: number): Promise<number | null> {
  const stat = await procStat(pid);
  return stat ? Number(stat[1]) : null;
}

/** Whether the pid runs the postgres binary; true where /proc can't tell (pid reuse is rare there). */
export async function isPostgres(pid: number): Promise<boolean> {
  const comm = await fs.readFile(`/proc/${pid}/comm`, "utf8").catch(() => null);
  return comm === null ? await isAlive(pid) : comm.trim() === "postgres";
}

/** Sends `signal`, waits for the pid to exit, escalating to SIGQUIT then SIGKILL if it hangs. */
export async function stopPid(pid: number, timeoutMs = 30_000): Promise<void> {
  for (const signal of ["SIGINT", "SIGQUIT", "SIGKILL"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + (signal === "SIGINT" ? timeoutMs : 5_000);
    while (Date.now() < deadline) {
      if (!(await isAlive(pid))) return;
      await sleep(25);
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const urlFor = (password: string, port: number): string =>
  `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

/**
 * Connects once and checks the server serves `dataDir`: a port may belong to some other server.
 * Resolves on success, rejects with the connection error otherwise.
 */
export async function probe(port: number, password: string, dataDir: string): Promise<void> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    database: "postgres",
    connectionTimeoutMillis: 2_000,
  });
  client.on("error", () => undefined); // a dropped connection must not become an unhandled event
  try {
    await client.connect();
    const { rows } = await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d");
    const [served, ours] = await Promise.all([realpathOr(rows[0]?.d ?? ""), realpathOr(dataDir)]);
    if (served !== ours) throw new Error(`port ${port} serves ${rows[0]?.d}, not ${dataDir}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const realpathOr = (p: string) => fs.realpath(p).catch(() => path.resolve(p));

/** Retries `probe` until it succeeds, `gaveUp()` says the server is gone, or the deadline passes. */
export async function waitReady(
  port: number,
  password: string,
  dataDir: string,
  gaveUp: () => string | null,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = gaveUp();
    if (gone) throw new Error(gone);
    try {
      return await probe(port, password, dataDir);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(30);
  }
}

/** A free TCP port on 127.0.0.1: bind port 0, read what the kernel chose, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
