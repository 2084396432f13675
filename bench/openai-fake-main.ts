import readline from "node:readline";
import { startOpenAiFake } from "../test/fakes/openai-fake.js";

/**
 * Entry of the OpenAI fake's own process (bench/openai-fake-process.ts starts it): the provider the
 * compat benchmark calls must not share the event loop, CPU time or heap of the process whose time
 * and memory are measured. argv[2] is the fake's options as JSON. Prints `{"baseUrl": …}` once
 * listening; then each `requests` line on stdin is answered with the request log as one JSON line.
 * Exits when stdin ends (the parent closed it, or died).
 */
const fake = await startOpenAiFake(JSON.parse(process.argv[2] ?? "{}"));
process.stdout.write(`${JSON.stringify({ baseUrl: fake.baseUrl })}\n`);
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim() !== "requests") return;
  const log = fake.requests.map((r) => ({ method: r.method, path: r.path, at: r.at, status: r.status ?? null }));
  process.stdout.write(`${JSON.stringify({ requests: log })}\n`);
});
rl.on("close", () => {
  fake.close().then(() => process.exit(0));
});
