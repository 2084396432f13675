import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ENTRIES } from "./entries.js";
import { meets, type BenchOutcome } from "./entry.js";

const RESULTS = fileURLToPath(new URL("./results/latest.json", import.meta.url));

interface Saved {
  name: string;
  title: string;
  measured_at: string;
  node: string;
  node_flags: string[];
  env?: Record<string, string>;
  outcome?: BenchOutcome;
  error?: string;
}

/**
 * `npm run bench` runs every entry, `npm run bench -- quote batch` the named ones. Each entry runs in
 * a process of its own on a fresh platform, so no figure carries what an earlier entry left behind
 * (the quote entry loads ~60 MB of tokenizer tables, which the upload's peak memory is not about).
 * The table shows each figure beside its target; bench/results/latest.json keeps the latest
 * outcome of every entry (entries not run this time keep their earlier figures). Not a test:
 * numbers vary with the machine.
 */
async function main() {
  const [flag, name, out] = process.argv.slice(2);
  if (flag === "--child") return runChild(name!, out!);
  const names = process.argv.slice(2);
  for (const n of names) {
    if (!ENTRIES.some((e) => e.name === n)) throw new Error(`unknown benchmark "${n}"; one of ${ENTRIES.map((e) => e.name).join(", ")}`);
  }
  const chosen = names.length ? ENTRIES.filter((e) => names.includes(e.name)) : ENTRIES;
  const saved: Saved[] = [];
  for (const entry of chosen) {
    const outFile = path.join(os.tmpdir(), `batchrouter-bench-${process.pid}-${entry.name}.json`);
    console.error(`… ${entry.name}: ${entry.title}`);
    const r = spawnSync(
      process.execPath,
      [...(entry.nodeFlags ?? []), ...process.execArgv, process.argv[1]!, "--child", entry.name, outFile],
      {
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, ...entry.env },
      },
    );
    const base = {
      name: entry.name,
      title: entry.title,
      measured_at: new Date().toISOString(),
      node: process.version,
      node_flags: entry.nodeFlags ?? [],
      ...(entry.env ? { env: entry.env } : {}),
    };
    if (r.status === 0 && fs.existsSync(outFile)) saved.push({ ...base, outcome: JSON.parse(fs.readFileSync(outFile, "utf8")) });
    else saved.push({ ...base, error: `exited ${r.status ?? r.signal}` });
    fs.rmSync(outFile, { force: true });
  }
  printTable(saved);
  save(saved);
  if (saved.some((s) => s.error)) process.exit(1);
}

async function runChild(name: string, outFile: string) {
  const entry = ENTRIES.find((e) => e.name === name)!;
  const outcome = await entry.run();
  fs.writeFileSync(outFile, JSON.stringify(outcome));
}

function printTable(saved: Saved[]) {
  const rows: string[][] = [["benchmark", "figure", "measured", "target", ""]];
  for (const s of saved) {
    if (!s.outcome) {
      rows.push([s.name, "—", s.error ?? "failed", "", "FAILED"]);
      continue;
    }
    for (const f of s.outcome.figures) {
      const ok = meets(f);
      rows.push([
        s.name,
        f.name,
        `${f.value.toLocaleString("en-US")} ${f.unit}`,
        f.target ? `${f.target.op} ${f.target.value.toLocaleString("en-US")} ${f.unit}` : "",
        ok === null ? "" : ok ? "ok" : "MISSED",
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  console.log(`\n${line(rows[0]!)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const r of rows.slice(1)) console.log(line(r));
  console.log("");
  for (const s of saved) {
    const entry = ENTRIES.find((e) => e.name === s.name);
    const flags = entry?.nodeFlags ?? [];
    const env = Object.entries(entry?.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const how = [...env, ...(flags.length ? [`node ${flags.join(" ")}`] : [])];
    if (s.outcome) console.log(`${s.name}: ${s.outcome.detail}${how.length ? ` [${how.join(" ")}]` : ""}`);
  }
}

function save(saved: Saved[]) {
  let previous: Record<string, Saved> = {};
  try {
    previous = JSON.parse(fs.readFileSync(RESULTS, "utf8")).entries ?? {};
  } catch {
    // first run on this checkout
  }
  for (const s of saved) previous[s.name] = s;
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  const cpus = os.cpus();
  fs.writeFileSync(
    RESULTS,
    `${JSON.stringify({ machine: { cpus: cpus.length, model: cpus[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30) }, entries: previous }, null, 2)}\n`,
  );
  console.log(`\nsaved to ${path.relative(process.cwd(), RESULTS)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
