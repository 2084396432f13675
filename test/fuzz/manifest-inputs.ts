import { createHash } from "node:crypto";
import fc from "fast-check";
import { BAD_ITEMS } from "./body-mutations.js";
import type { Json } from "./json-schema.js";
import { BAD_UTF8, type WireBody } from "./raw-bodies.js";

// Manifests for the upload paths (spec/api.md §4): JSONL where at least one line — or a declared
// header, or the multipart framing — is wrong, so "any invalid line → 400, nothing stored" applies.

const enc = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: (Uint8Array | string)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? enc(p) : p)));

const nativeLine = (id: string) => ({
  customer_item_id: id,
  model: "gpt-4o-mini",
  input: { messages: [{ role: "user", content: `Summarise ticket ${id}.` }] },
  max_output_tokens: 40,
});
const openAiLine = (id: string) => ({
  custom_id: id,
  method: "POST",
  url: "/v1/chat/completions",
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Classify ${id}` }], max_tokens: 40 },
});

/** A bad line: bytes, since some are not UTF-8 at all. */
const badLine: fc.Arbitrary<{ bytes: Uint8Array; note: string }> = fc.oneof(
  fc.constantFrom(...BAD_ITEMS).map(([note, make]) => {
    const items = make(nativeLine("dup") as Record<string, Json>);
    const text = items.map((i) => JSON.stringify(i)).join("\n");
    return {
      bytes: enc(text.replace(/"__fuzz_deep_(\d+)__"/g, (_, d) => "[".repeat(+d) + "]".repeat(+d)).replaceAll('"__fuzz_1e400__"', "1e400")),
      note,
    };
  }),
  fc.constantFrom("{", '{"customer_item_id":', "[1,2]", '"a string"', "42", "null", "not json at all", "{}").map((t) => ({
    bytes: enc(t),
    note: `line ${t}`,
  })),
  fc
    .constantFrom(
      { ...openAiLine("o"), method: "GET" },
      { ...openAiLine("o"), url: "/v1/nope" },
      { ...openAiLine("o"), body: "text" },
      { ...openAiLine("o"), custom_id: 7 },
      { custom_id: "o", method: "POST", url: "/v1/chat/completions" },
    )
    .map((l) => ({ bytes: enc(JSON.stringify(l)), note: `OpenAI line ${JSON.stringify(l).slice(0, 50)}` })),
  fc.constantFrom(...BAD_UTF8).map(([label, b]) => ({ bytes: concat('{"customer_item_id":"', new Uint8Array(b), '"}'), note: label })),
  fc.constantFrom('"\\u0000"', '"\\ud800"', '"a\\udfffb"').map((s) => ({
    bytes: enc(JSON.stringify(nativeLine("esc")).replace('"Summarise ticket esc."', s)),
    note: `escaped ${s} in content`,
  })),
);

/** A JSONL body with at least one bad line among good ones (native or OpenAI format), in any line ending. */
export const badManifest: fc.Arbitrary<{ bytes: Buffer; note: string }> = fc
  .record({
    good: fc.array(fc.boolean(), { maxLength: 5 }),
    bad: fc.array(badLine, { minLength: 1, maxLength: 3 }),
    order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
    eol: fc.constantFrom("\n", "\r\n"),
    trailing: fc.boolean(),
  })
  .map(({ good, bad, order, eol, trailing }) => {
    const lines: { bytes: Uint8Array; note?: string }[] = [
      ...good.map((openai, i) => ({ bytes: enc(JSON.stringify(openai ? openAiLine(`g${i}`) : nativeLine(`g${i}`))) })),
      ...bad,
    ];
    // A deterministic shuffle from the generated numbers, so the bad lines land anywhere.
    const shuffled = lines.map((l, i) => ({ l, k: order[i % order.length]! + i / 100 })).sort((a, b) => a.k - b.k);
    const parts = shuffled.flatMap(({ l }, i) => (i === 0 ? [l.bytes] : [enc(eol), l.bytes]));
    if (trailing) parts.push(enc(eol));
    return { bytes: concat(...parts), note: `${good.length} good + ${bad.map((b) => b.note).join(", ")}` };
  });

const validManifest = (n: number) => concat(...Array.from({ length: n }, (_, i) => `${JSON.stringify(nativeLine(`v${i}`))}\n`));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A valid manifest the declared headers contradict, or no manifest at all: 400 either way. */
const badFraming: fc.Arbitrary<{ bytes: Buffer; headers: Record<string, string>; note: string }> = fc.oneof(
  fc
    .record({ n: fc.integer({ min: 1, max: 4 }), declared: fc.constantFrom("0", "-1", "abc", "1.5", "99999999999999999999", "") })
    .map(({ n, declared }) => ({
      bytes: validManifest(n),
      headers: { "x-batchrouter-item-count": declared === "" ? String(n + 1) : declared },
      note: `item count ${declared || n + 1} declared for ${n}`,
    })),
  fc.record({ n: fc.integer({ min: 1, max: 4 }), sha: fc.constantFrom("zz", "0".repeat(64), sha256(enc("other"))) }).map(({ n, sha }) => ({
    bytes: validManifest(n),
    headers: { "x-content-sha256": sha },
    note: `x-content-sha256 ${sha.slice(0, 8)}… for another body`,
  })),
  fc
    .constantFrom("", "\n", "\n\n\r\n", "   ")
    .map((t) => ({ bytes: Buffer.from(t), headers: {}, note: `empty manifest ${JSON.stringify(t)}` })),
);

// File names a stored file must not take as they are (they end up in Content-Disposition).
const FILENAMES = fc.constantFrom("manifest.jsonl", "../../etc/passwd", "a\u0000b.jsonl", "\ud800.jsonl", 'q".jsonl', "f".repeat(2000), "");

export type UploadKind = "raw" | "multipart";

const RAW_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"];

function multipart(parts: { name: string; filename?: string; data: Uint8Array }[], boundary: string): Buffer {
  const chunks: (Uint8Array | string)[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? "" : `; filename="${p.filename}"`}`;
    chunks.push(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n`);
    if (p.filename !== undefined) chunks.push("Content-Type: application/jsonl\r\n");
    chunks.push("\r\n", p.data, "\r\n");
  }
  chunks.push(`--${boundary}--\r\n`);
  return concat(...chunks);
}

/**
 * Bad uploads for one upload path: a bad manifest or contradicting headers sent raw or as a form,
 * plus what only a form can get wrong (truncated, no file part, a wrong purpose, a broken boundary).
 * `needsPurpose`: the files endpoints want `purpose=batch` beside the file.
 */
export function badUploads(kinds: UploadKind[], needsPurpose: boolean): fc.Arbitrary<WireBody> {
  const boundary = "fuzzBoundary7MA4YWxkTrZu0gW";
  const form = (data: Uint8Array, purpose: string | null = "batch", filename = "manifest.jsonl") =>
    multipart(
      [{ name: "file", filename, data }, ...(needsPurpose && purpose !== null ? [{ name: "purpose", data: enc(purpose) }] : [])],
      boundary,
    );
  const formType = { "Content-Type": `multipart/form-data; boundary=${boundary}` };
  const content = fc.oneof(
    badManifest.map((m) => ({ ...m, headers: {} as Record<string, string> })),
    badFraming,
  );
  const arbs: fc.Arbitrary<WireBody>[] = [];
  if (kinds.includes("raw")) {
    arbs.push(
      fc.tuple(content, fc.constantFrom(...RAW_TYPES)).map(([c, type]) => ({
        headers: { "Content-Type": type, ...c.headers },
        body: c.bytes,
        note: `raw ${type}: ${c.note}`,
      })),
    );
  }
  if (kinds.includes("multipart")) {
    arbs.push(
      fc.tuple(content, FILENAMES).map(([c, name]) => ({
        headers: { ...formType, ...c.headers },
        body: form(c.bytes, "batch", name),
        note: `multipart (filename ${JSON.stringify(name).slice(0, 30)}): ${c.note}`,
      })),
    );
    const whole = form(validManifest(3));
    const end = whole.lastIndexOf(enc(`\r\n--${boundary}--`));
    const broken: fc.Arbitrary<WireBody>[] = [
      // Cut anywhere before the closing delimiter: the form never ends.
      fc
        .integer({ min: 1, max: end })
        .map((k) => ({ headers: formType, body: whole.subarray(0, k), note: `multipart truncated at ${k}/${whole.length}` })),
      fc.constant({
        headers: formType,
        body: multipart([{ name: "other", filename: "m.jsonl", data: validManifest(1) }], boundary),
        note: "no `file` part",
      }),
      fc.constant({
        headers: formType,
        body: multipart([{ name: "file", data: validManifest(1) }], boundary),
        note: "`file` as a text field",
      }),
      fc.constant({ headers: { "Content-Type": "multipart/form-data" }, body: whole, note: "multipart without a boundary" }),
      fc.constant({
        headers: { "Content-Type": "multipart/form-data; boundary=another" },
        body: whole,
        note: "multipart with another boundary",
      }),
      fc.constant({ headers: formType, body: enc("garbage, not a form"), note: "multipart garbage" }),
    ];
    if (needsPurpose) {
      broken.push(
        fc.constantFrom("fine-tune", "", "BATCH", "batch\u0000", "assistants").map((p) => ({
          headers: formType,
          body: form(validManifest(2), p),
          note: `purpose ${JSON.stringify(p)}`,
        })),
        fc.constant({ headers: formType, body: form(validManifest(2), null), note: "no purpose" }),
      );
    }
    arbs.push(fc.oneof(...broken));
  }
  return fc.oneof(...arbs);
}
