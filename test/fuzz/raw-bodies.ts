import fc from "fast-check";
import { badJsonBodies } from "./body-mutations.js";
import { type Schema, sampleOf } from "./json-schema.js";

/** A request body as bytes on the wire, with the headers that frame it. */
export interface WireBody {
  headers: Record<string, string>;
  body: Uint8Array;
  note: string;
}

const JSON_TYPE = { "Content-Type": "application/json" };
const enc = (s: string) => new TextEncoder().encode(s);

/** Byte sequences no UTF-8 decoder may accept: stray bytes, overlong forms, a surrogate, truncations. */
export const BAD_UTF8: [string, number[]][] = [
  ["0xFF", [0xff]],
  ["0xFE 0xFF", [0xfe, 0xff]],
  ["lone continuation byte", [0x80]],
  ["overlong NUL", [0xc0, 0x80]],
  ["overlong slash", [0xe0, 0x80, 0xaf]],
  ["raw surrogate U+D800 (CESU-8)", [0xed, 0xa0, 0x80]],
  ["truncated 3-byte sequence", [0xe2, 0x82]],
  ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
];

const NOT_JSON = [
  "{",
  "}",
  '{"a":}',
  "{'a':1}",
  '{"a":1,}',
  "NaN",
  '{"a":NaN}',
  '{"a":Infinity}',
  "undefined",
  '{"a":01}',
  '{"a":"\\x"}',
  '{"a":"\\u12"}',
  '{"a":1}}',
  '{"a":1} {"b":2}',
  "// comment\n{}",
  "\ufeff{}",
  '{"a":"line\nbreak"}',
  "{a:1}",
  "[1,2",
  "nul",
];

// Media types the JSON endpoints must refuse with 415 (a JSON body as anything but JSON, UTF-8, identity).
const WRONG_TYPES: Record<string, string>[] = [
  { "Content-Type": "text/plain" },
  { "Content-Type": "application/xml" },
  { "Content-Type": "application/x-www-form-urlencoded" },
  { "Content-Type": "multipart/form-data; boundary=fuzz" },
  { "Content-Type": "application/octet-stream" },
  { "Content-Type": "application/jsonx" },
  { "Content-Type": "application/json; charset=latin1" },
  { "Content-Type": "application/json; charset=utf-16" },
  { "Content-Type": "application/json", "Content-Encoding": "gzip" },
  { "Content-Type": "application/json", "Content-Encoding": "br" },
  {},
];

const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

/** `text` with one structural change that makes it unparseable (checked with JSON.parse, never assumed). */
function brokenJson(text: string): fc.Arbitrary<WireBody> {
  const cut = fc.integer({ min: 1, max: Math.max(1, text.length - 1) }).map((k) => ({ t: text.slice(0, k), note: `cut at ${k}` }));
  const insert = fc
    .tuple(fc.integer({ min: 0, max: text.length }), fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "'", "\\", "\u0000", "\u0001", "x"))
    .map(([k, c]) => ({ t: text.slice(0, k) + c + text.slice(k), note: `${JSON.stringify(c)} inserted at ${k}` }));
  const fixed = fc.constantFrom(...NOT_JSON).map((t) => ({ t, note: "not JSON" }));
  return fc
    .oneof(cut, insert, fixed)
    .filter(({ t }) => !isJson(t))
    .map(({ t, note }) => ({ headers: JSON_TYPE, body: enc(t), note: `malformed JSON: ${note}` }));
}

/** `text` with invalid UTF-8 bytes spliced in at some byte offset. */
function badBytes(text: string): fc.Arbitrary<WireBody> {
  const bytes = enc(text);
  return fc.tuple(fc.integer({ min: 0, max: bytes.length }), fc.constantFrom(...BAD_UTF8)).map(([k, [label, bad]]) => ({
    headers: JSON_TYPE,
    body: new Uint8Array([...bytes.subarray(0, k), ...bad, ...bytes.subarray(k)]),
    note: `invalid UTF-8 (${label}) at byte ${k}`,
  }));
}

const topLevel: fc.Arbitrary<WireBody> = fc
  .oneof(
    fc.constantFrom("[]", "[{}]", '"text"', "1", "-0", "null", "true", "false", "1e400"),
    fc.integer({ min: 1_000, max: 100_000 }).map((d) => "[".repeat(d) + "]".repeat(d)),
    fc.integer({ min: 1_000, max: 50_000 }).map((d) => `${'{"a":'.repeat(d)}1${"}".repeat(d)}`),
  )
  .map((t) => ({ headers: JSON_TYPE, body: enc(t), note: `top-level ${t.length > 40 ? `${t.slice(0, 20)}… (${t.length} chars)` : t}` }));

/** Past the 10 MB JSON limit: a 413, read or not. */
const tooLarge: fc.Arbitrary<WireBody> = fc.integer({ min: 10 * 1024 * 1024 + 1, max: 11 * 1024 * 1024 }).map((n) => ({
  headers: JSON_TYPE,
  body: enc(`{"k":"${"x".repeat(n)}"}`),
  note: `${n} bytes of JSON`,
}));

/**
 * Every way a JSON endpoint's body can be refused: schema-level (wrong types and values, see
 * body-mutations.ts), malformed text, bad bytes, another top-level type, the wrong media type or
 * encoding, or too big. A route without a request schema gets `{}` as its sample.
 */
export function badWireBodies(schema: Schema | undefined): fc.Arbitrary<WireBody> {
  const sampleText = schema ? JSON.stringify(sampleOf(schema)) : "{}";
  const wrongType = fc
    .constantFrom(...WRONG_TYPES)
    .map((headers) => ({ headers, body: enc(sampleText), note: `sent as ${JSON.stringify(headers)}` }));
  const arbs: fc.WeightedArbitrary<WireBody>[] = [
    { weight: 3, arbitrary: brokenJson(sampleText) },
    { weight: 2, arbitrary: badBytes(sampleText) },
    { weight: 2, arbitrary: wrongType },
    { weight: 1, arbitrary: topLevel },
    { weight: 1, arbitrary: tooLarge },
  ];
  if (schema) {
    const schemaBad = badJsonBodies(schema).map((b) => ({ headers: JSON_TYPE, body: enc(b.text), note: b.note }));
    arbs.push({ weight: 8, arbitrary: schemaBad });
  }
  return fc.oneof(...arbs);
}
