// The client half of the upload benchmark, run in a process of its own so that the figures of
// bench/manifest-upload.ts (CPU, peak RSS) are the server's alone. Streams a generated raw JSONL
// manifest to POST /v1/batches/input-manifests; prints "sending" on a line of its own as it starts,
// then {status, body} as JSON.
// Usage: tsx bench/upload-client.ts <base-url> <api-key> <lines>
import http from "node:http";
import { Readable } from "node:stream";
import { manifestChunks } from "./manifest-parse.js";

const USER = [
  "My card was charged twice for order #{n}, please refund one of the charges.",
  "The export button does nothing on Safari 17 since yesterday's update (ticket {n}).",
  "ACME GmbH — Rechnung {n}, Gesamtbetrag 1.249,00 EUR, fällig am 30.09. 😊",
  "Great product but delivery {n} took three weeks and the box was damaged.",
];
const SYSTEM = "You are a support triage assistant. Answer with one label: billing, bug, feature, other.";
const MODELS = ["gpt-4o-mini", "claude-haiku-4", "llama-3.3-70b-instruct"];
const MARK = "\u0000ID\u0000";

/** Short chat items, some Responses-style and embeddings, split around the id so generating costs little. */
function templates(): [Buffer, Buffer][] {
  return Array.from({ length: 1000 }, (_, i) => {
    const user = JSON.stringify(USER[i % USER.length]!.replace("{n}", String(i * 7919)));
    const head = `"customer_item_id":"${MARK}","model":"${MODELS[i % MODELS.length]}"`;
    const line =
      i % 20 === 0
        ? `{"customer_item_id":"${MARK}","operation":"embeddings","model":"text-embedding-3-small","input":{"input":${user}}}`
        : i % 5 === 0
          ? `{${head},"input":{"input":${user},"instructions":${JSON.stringify(SYSTEM)}},"max_output_tokens":128}`
          : `{${head},"input":{"messages":[{"role":"system","content":${JSON.stringify(SYSTEM)}},{"role":"user","content":${user}}]},"max_output_tokens":64}`;
    const [a, b] = line.split(MARK) as [string, string];
    return [Buffer.from(a), Buffer.from(`${b}\n`)];
  });
}

const [base, key, lines] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const parts = templates();
process.stdout.write("sending\n");
const res = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
  const req = http.request(
    `${base}/v1/batches/input-manifests`,
    {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson", "x-batchrouter-item-count": String(lines) },
    },
    (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c))
        .on("end", () => resolve({ status: r.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }))
        .on("error", reject);
    },
  );
  req.on("error", reject);
  Readable.from(manifestChunks(lines, parts), { objectMode: false }).pipe(req);
});
process.stdout.write(JSON.stringify(res));
