import { spawnSync } from "node:child_process";
import { startBenchPlatform, post } from "./harness.js";
import { benchBatch100k } from "./batch-100k.js";
import { benchManifestUpload } from "./manifest-upload.js";
import { benchQuote50k } from "./quote-50k.js";

const ENTRIES = ["quote", "upload", "batch"];

/**
 * `npm run bench`: prints each figure with its target. Not a test: numbers vary with the machine;
 * README and the issue notes record them with the command that produced them. Each entry runs in a
 * process of its own on a fresh platform, so no figure carries what an earlier entry left behind
 * (the quote entry loads ~60 MB of tokenizer tables, which the upload's peak memory is not about).
 */
async function main() {
  const only = process.argv[2];
  if (!only) {
    for (const entry of ENTRIES) {
      const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, entry], { stdio: "inherit" });
      if (r.status !== 0) process.exit(r.status ?? 1);
    }
    return;
  }
  if (!ENTRIES.includes(only)) throw new Error(`unknown benchmark "${only}"; one of ${ENTRIES.join(", ")}`);
  const platform = await startBenchPlatform();
  try {
    const reg = await post(platform.base, "/v1/auth/agent-register", null, {});
    const key = reg.body.test_api_key as string;
    if (only === "quote") {
      const r = await benchQuote50k(platform, key);
      console.log(
        `quote, 50,000 inline items (${r.body_mb} MB body): median ${r.median_ms} ms, best ${r.best_ms} ms per quote  [target < 500 ms]`,
      );
    }
    if (only === "upload") {
      const r = await benchManifestUpload(platform, key, 1_000_000);
      console.log(
        `upload, 1,000,000-line raw manifest (${(r.bytes / 1e6).toFixed(1)} MB) over HTTP: ${r.lines_per_s.toLocaleString("en-US")} lines/s ` +
          `(${r.seconds} s, ${r.mb_per_s} MB/s, ${r.cpu_s} s CPU in the server), server peak RSS ${r.peak_rss_mb} MB (${r.start_rss_mb} MB before)  [target ≥ 100,000 lines/s, ≤ 256 MB]`,
      );
    }
    if (only === "batch") {
      const r = await benchBatch100k(platform, key);
      console.log(
        `batch, ${r.items.toLocaleString("en-US")} items on zero-latency simulator lanes: ${r.state} with its ${r.artifact_mb} MB output artifact ` +
          `in ${r.total_s} s from POST /v1/batches (create answered in ${r.create_ms} ms; peak RSS ${r.peak_rss_mb} MB, ${r.start_rss_mb} MB before)  [target ≤ 20 s]`,
      );
    }
  } finally {
    await platform.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
