import fs from "node:fs/promises"; import os from "node:os"; import path from "node:path";
import pg from "pg"; import { from as copyFrom } from "pg-copy-streams";
import { startEmbeddedPostgres } from "./db/embedded.js";
import { fileItemChunkTuple, COPY_TRAILER } from "./db/queries/files.js";
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ct-")); await fs.chmod(dir, 0o755);
const srv = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg"), persistent: false, postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off"] });
const c = new pg.Client({ connectionString: srv.url }); await c.connect();
const items = Array.from({length: 1000}, (_, i) => Buffer.from(JSON.stringify({customer_item_id:"x"+i, model:"gpt-4o-mini", input:{messages:[{role:"system",content:"You are a support triage assistant. Answer with one label: billing, bug, feature, other." + i},{role:"user",content:"My card was charged twice for order #123, please refund one of the charges." + Math.random()}]}, max_output_tokens:64})));
const lines = items.map((_, i) => i + 1);
let PIECE = 1 << 30;
async function run(label: string, storage: string, ddl = "CREATE TABLE fi (file_id text not null references f(id) on delete cascade, seq int not null, first_idx int not null, lines int[] not null, items text not null, primary key(file_id, seq));") {
  await c.query("DROP TABLE IF EXISTS fi; DROP TABLE IF EXISTS f;");
  await c.query(`CREATE TABLE f (id text primary key); ${ddl} ${storage}`);
  await c.query("BEGIN"); await c.query("INSERT INTO f VALUES ('file_01ABCDEFGHJKMNPQRSTVWXYZ12')");
  const t0 = performance.now();
  const s = c.query(copyFrom("COPY fi (file_id, seq, first_idx, lines, items) FROM STDIN (FORMAT binary)", { highWaterMark: 4 * 1024 * 1024 }));
  s.write(Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]));
  let waits = 0;
  const mon = new pg.Client({ connectionString: srv.url }); await mon.connect();
  const tick = setInterval(async () => { const r = await mon.query("select bytes_processed, tuples_processed from pg_stat_progress_copy"); const { execSync } = await import("node:child_process"); console.log(Math.round(performance.now() - t0), JSON.stringify(r.rows), execSync("ps -C postgres -o rss=,pcpu=,args= | sort -n | tail -2 | tr '\\n' '|'").toString()); }, 250);
  for (let i = 0; i < 1000; i++) { const t = fileItemChunkTuple("file_01ABCDEFGHJKMNPQRSTVWXYZ12", i, i * 1000, lines, items); let ok = true; for (let o = 0; o < t.length; o += PIECE) ok = s.write(t.subarray(o, o + PIECE)); if (!ok) { waits++; await new Promise(r => s.once("drain", r)); } }
  const t1 = performance.now();
  s.end(COPY_TRAILER); await new Promise((r, j) => s.on("finish", r).on("error", j));
  const t2 = performance.now();
  clearInterval(tick); await mon.end();
  await c.query("COMMIT");
  console.log(label, "write", Math.round(t1 - t0), "end", Math.round(t2 - t1), "commit", Math.round(performance.now() - t2), "waits", waits);
}
await run("volatile-default", "ALTER TABLE fi ALTER COLUMN items SET STORAGE EXTERNAL; ALTER TABLE fi ADD COLUMN written_at timestamptz not null default clock_timestamp();");
await c.end(); await srv.stop(); await fs.rm(dir, { recursive: true, force: true });
