import { startBenchPlatform, post } from "./harness.js";
import { benchQuote50k } from "./quote-50k.js";

/**
 * `npm run bench`: prints each figure with its target. Not a test: numbers vary with the machine;
 * README and the issue notes record them with the command that produced them.
 */
async function main() {
  const only = process.argv[2];
  const platform = await startBenchPlatform();
  try {
    const reg = await post(platform.base, "/v1/auth/agent-register", null, {});
    const key = reg.body.test_api_key as string;
    if (!only || only === "quote") {
      const r = await benchQuote50k(platform, key);
      console.log(`quote, 50,000 inline items (${r.body_mb} MB body): median ${r.median_ms} ms, best ${r.best_ms} ms per quote  [target < 500 ms]`);
    }
  } finally {
    await platform.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
