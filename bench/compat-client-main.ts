import { chatInputFile, medianRetrieveMs, runWorkload, sdkClient } from "./compat-workload.js";
import type { ClientSpec } from "./compat-client.js";

/**
 * Entry of one workload run in its own process (bench/compat-client.ts starts it): a customer's
 * program is not inside the platform, so its timers and its SDK's work must not wait on the
 * platform's event loop, nor its memory count as the platform's. Prints the run as one JSON line.
 */
const spec = JSON.parse(process.argv[2] ?? "{}") as ClientSpec;
const client = sdkClient(spec.baseURL, spec.apiKey, spec.headers);
const fallback = spec.fallback ? sdkClient(spec.fallback.baseURL, spec.fallback.apiKey) : undefined;
const run = await runWorkload(client, {
  file: chatInputFile(spec.lines),
  pollMs: spec.pollMs,
  uploadFallback: fallback,
  deadlineMs: spec.deadlineMs,
});
const retrieveMs = spec.probeRetrieve && run.batch_id ? await medianRetrieveMs(client, run.batch_id) : undefined;
process.stdout.write(`${JSON.stringify({ run, retrieveMs })}\n`);
