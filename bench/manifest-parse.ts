// Benchmark: stream a generated JSONL manifest through parseManifest with a no-op onItems.
// Run: npx tsx bench/manifest-parse.ts [lines=1000000] [native|openai]
// Targets (design): ≥ 100k lines/s for short chat items on a 2-core machine; peak RSS well under 256 MB.
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { parseManifest } from "../server/files/manifest-parser.js";
import { rssSampler } from "./rss-sampler.js";

export interface ManifestBench {
  lines: number;
  bytes: number;
  seconds: number;
  lines_per_s: number;
  mb_per_s: number;
  peak_rss_mb: number;
  /** RSS before the parse (Node, tsx and the modules), to tell the parser's share from the baseline. */
  start_rss_mb: number;
}

const SYSTEM = [
  "You are a support triage assistant. Answer with one label: billing, bug, feature, other.",
  "Extract the company name and invoice total from the text. Reply as JSON.",
  "Summarise the review in one sentence and give a sentiment from -1 to 1.",
];
const USER = [
  "My card was charged twice for order #{n}, please refund one of the charges.",
  "The export button does nothing on Safari 17 since yesterday's update (ticket {n}).",
  "ACME GmbH — Rechnung {n}, Gesamtbetrag 1.249,00 EUR, fällig am 30.09. 😊",
  "Great product but delivery {n} took three weeks and the box was damaged.",
  "Can you add SSO with Okta? We have {n} seats and need it before renewal.",
];
const MODELS = ["gpt-4o-mini", "llama-3.3-70b-instruct", "claude-haiku-4", "gemini-2.5-flash"];

/** One realistic item: mostly short chat, some Responses-style, embeddings and vision items. */
function nativeLine(i: number, id: string): string {
  const user = JSON.stringify(USER[i % USER.length]!.replace("{n}", String(i * 7919)));
  const model = `"model":"${MODELS[i % MODELS.length]}"`;
  const head = `"customer_item_id":"${id}"`;
  const kind = i % 50;
  if (kind < 3) return `{${head},"operation":"embeddings","model":"text-embedding-3-small","input":{"input":${user}}}`;
  if (kind < 5) {
    const img = `{"type":"image_url","image_url":{"url":"https://cdn.example.com/receipts/${i}.jpg"}}`;
    return `{${head},${model},"input":{"messages":[{"role":"user","content":[{"type":"text","text":"Read the total."},${img}]}]}}`;
  }
  if (kind < 9) return `{${head},${model},"input":{"input":${user},"instructions":${JSON.stringify(SYSTEM[0])}},"max_output_tokens":128}`;
  const sys = JSON.stringify(SYSTEM[i % SYSTEM.length]);
  const meta = i % 3 === 0 ? `,"metadata":{"ticket":"T-${i}","queue":"emea"}` : "";
  return `{${head},${model},"input":{"messages":[{"role":"system","content":${sys}},{"role":"user","content":${user}}],"temperature":0}${meta},"max_output_tokens":64}`;
}

function openAiLine(i: number, id: string): string {
  const user = JSON.stringify(USER[i % USER.length]!.replace("{n}", String(i * 7919)));
  const body = `{"model":"${MODELS[i % MODELS.length]}","messages":[{"role":"system","content":${JSON.stringify(SYSTEM[i % SYSTEM.length])}},{"role":"user","content":${user}}],"max_tokens":64}`;
  return `{"custom_id":"${id}","method":"POST","url":"/v1/chat/completions","body":${body}}`;
}

// 1,000 distinct lines, each split around its id, so a line costs two copies and a few digits:
// building every line with JSON.stringify would cost about as much as parsing it and skew the figure.
const MARK = "\u0000ID\u0000";
function templates(line: (i: number, id: string) => string): [Buffer, Buffer][] {
  return Array.from({ length: 1000 }, (_, i) => {
    const [head, tail] = line(i, MARK).split(MARK) as [string, string];
    return [Buffer.from(head), Buffer.from(`${tail}\n`)];
  });
}

/**
 * A manifest of `lines` items made on the fly in 64 KB chunks, like a request body arriving, so
 * nothing large is held; `parts` are line templates split around the item id.
 */
export function* manifestChunks(lines: number, parts: [Buffer, Buffer][], onChunk: () => void = () => undefined): Generator<Buffer> {
  const size = 64 * 1024;
  let chunk = Buffer.allocUnsafe(size);
  let used = 0;
  for (let i = 0; i < lines; i++) {
    const [head, tail] = parts[i % parts.length]!;
    const id = `item-${i}`;
    if (used + head.length + id.length + tail.length > size) {
      onChunk();
      yield chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(Math.max(size, head.length + id.length + tail.length));
      used = 0;
    }
    used += head.copy(chunk, used);
    used += chunk.write(id, used, "latin1");
    used += tail.copy(chunk, used);
  }
  if (used > 0) yield chunk.subarray(0, used);
}

/** Parses a generated manifest of `lines` items; throughput includes generating it (same thread). */
export async function benchManifestParse(lines = 1_000_000, format: "native" | "openai" = "native"): Promise<ManifestBench> {
  // The parse runs mostly on microtasks, so the timer seldom fires: sample at every batch (1,000 lines) too.
  const rss = rssSampler();
  const sample = rss.sample;
  const started = performance.now();
  try {
    const source = Readable.from(manifestChunks(lines, templates(format === "openai" ? openAiLine : nativeLine)), { objectMode: false });
    const result = await parseManifest(source, { onItems: async () => sample() });
    const seconds = (performance.now() - started) / 1000;
    sample();
    if (result.errors.length > 0 || result.item_count !== lines) {
      throw new Error(`bench manifest did not parse cleanly: ${JSON.stringify(result.errors.slice(0, 3))}`);
    }
    return {
      lines,
      bytes: result.bytes,
      seconds,
      lines_per_s: Math.round(lines / seconds),
      mb_per_s: Math.round((result.bytes / 1e6 / seconds) * 10) / 10,
      ...rss.stop(),
    };
  } finally {
    rss.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const lines = Number(process.argv[2] ?? 1_000_000);
  const format = process.argv[3] === "openai" ? "openai" : "native";
  const r = await benchManifestParse(lines, format);
  console.log(
    `manifest-parse (${format}): ${r.lines.toLocaleString("en-US")} lines, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s → ` +
      `${r.lines_per_s.toLocaleString("en-US")} lines/s, ${r.mb_per_s} MB/s, peak RSS ${r.peak_rss_mb} MB (${r.start_rss_mb} MB before)`,
  );
}
