import fc from "fast-check";
import { holdsUnstorable, type Json, type Path, SAMPLE_BY_FIELD, type Schema, sampleOf, setAt, sitesOf, violates } from "./json-schema.js";

/** A JSON text the contract refuses, and a short note of what was done to it (for failure reports). */
export interface BadJson {
  text: string;
  note: string;
}

// A nesting too deep to build as a value (JSON.stringify recurses) is spliced into the text instead.
const DEEP = (depth: number) => `__fuzz_deep_${depth}__`;
const DEEP_TOKEN = /"__fuzz_deep_(\d+)__"/g;
const spliceDeep = (text: string) => text.replace(DEEP_TOKEN, (_, d: string) => `${"[".repeat(Number(d))}${"]".repeat(Number(d))}`);
/** What the deep value is, as far as a schema check goes: an array of arrays. */
const deepStandIn = (v: unknown): unknown => (typeof v === "string" && v.startsWith("__fuzz_deep_") ? [[[]]] : v);

const UNSTORABLE = ["a\u0000b", "\u0000", "\ud800", "x\udfffy", "\udc00\ud800", "ok\ud83d"];

/** Values to put where the schema says otherwise: wrong types, edges, huge, deep, unstorable. */
function candidatesFor(schema: Schema): fc.Arbitrary<Json> {
  const edges: Json[] = ["", "x", 0, -1, 1.5, 7, 2 ** 53 + 2, -(2 ** 63), 1e308, true, false, null, [], {}, [1, "a"], { a: 1 }];
  if (schema.maxLength !== undefined) edges.push("x".repeat(schema.maxLength + 1), "é".repeat(schema.maxLength + 1));
  if (schema.minLength) edges.push("x".repeat(schema.minLength - 1));
  for (const n of [schema.maximum, schema.exclusiveMaximum]) if (n !== undefined) edges.push(n + 1, n + 0.5);
  for (const n of [schema.minimum, schema.exclusiveMinimum]) if (n !== undefined) edges.push(n - 1, n - 0.5, n);
  if (schema.enum || schema.const !== undefined) edges.push("not-a-listed-value", "RESPONSES");
  if (schema.format) edges.push("not a valid value for this format");
  if (schema.maxItems !== undefined && schema.maxItems <= 1000) {
    const one = Array.isArray(schema.items) ? null : sampleOf(schema.items ?? {});
    edges.push(Array.from({ length: schema.maxItems + 1 }, () => one));
  }
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...edges) },
    { weight: 2, arbitrary: fc.constantFrom(...UNSTORABLE) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true })) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 60_000 }).map(DEEP) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.integer({ min: 100_000, max: 2_000_000 }).map((n) => "x".repeat(n)),
        fc.integer({ min: 10_000, max: 200_000 }).map((n) => Array.from({ length: n }, () => 0)),
        fc.integer({ min: 1_000, max: 20_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom<Json>({ "a\u0000": 1 }, { "\ud800": "x" }, [UNSTORABLE[0]!]) },
  );
}

interface Mutation {
  path: Path;
  value: Json | undefined;
  note: string;
  /** Refused by a rule the schema can't express (nesting past 256 levels, server/text-guard.ts), not by the schema. */
  force?: true;
}

const isOpenObject = (s: Schema) =>
  (s.type === "object" || s.properties !== undefined) &&
  (s.additionalProperties === undefined ||
    s.additionalProperties === true ||
    (typeof s.additionalProperties === "object" && Object.keys(s.additionalProperties).length === 0));

/** An object that takes any extra key takes any value under it: only the nesting limit (256) stops a deep one. */
function deepUnderOpenObject(site: { path: Path; schema: Schema }, sample: Json): fc.Arbitrary<Mutation> {
  const base = (valueAt(sample, site.path) ?? {}) as Record<string, Json>;
  return fc.integer({ min: 300, max: 60_000 }).map((n) => ({
    path: site.path,
    value: { ...base, zz_deep: DEEP(n) },
    note: `${site.path.join("/") || "(root)"} + a key nested ${n} deep`,
    force: true as const,
  }));
}

/** One change at one site of the sample: a new value, an unknown field, or a required field removed. */
function mutationAt(site: { path: Path; schema: Schema }, sample: Json): fc.Arbitrary<Mutation> {
  const at = site.path.join("/") || "(root)";
  const replace = candidatesFor(site.schema).map((value) => ({ path: site.path, value, note: `${at} = ${preview(value)}` }));
  const extra: fc.Arbitrary<Mutation>[] = [];
  if (site.schema.additionalProperties === false) {
    const base = (valueAt(sample, site.path) ?? {}) as Record<string, Json>;
    extra.push(fc.constant({ path: site.path, value: { ...base, zz_unknown_field: 1 }, note: `${at} + unknown field` }));
  }
  for (const k of site.schema.required ?? []) {
    extra.push(fc.constant({ path: [...site.path, k], value: undefined, note: `${at} without required ${k}` }));
  }
  return extra.length > 0 ? fc.oneof({ weight: 4, arbitrary: replace }, ...extra) : replace;
}

function valueAt(root: Json, path: Path): Json | undefined {
  let v: any = root;
  for (const p of path) v = v?.[p];
  return v;
}

const preview = (v: unknown) => {
  const s = typeof v === "string" && v.startsWith("__fuzz_deep_") ? v : JSON.stringify(v);
  return s === undefined ? "undefined" : s.length > 60 ? `${s.slice(0, 60)}…(${s.length} chars)` : s;
};

/** Items the manifest contract (spec/api.md §3b, §4) refuses although the request schema lets `items[]` be anything. */
export const BAD_ITEMS: [string, (good: Record<string, Json>) => Json[]][] = [
  ["item not an object", () => [1]],
  ["item null", () => [null]],
  ["customer_item_id a number", (g) => [{ ...g, customer_item_id: 5 }]],
  ["customer_item_id empty", (g) => [{ ...g, customer_item_id: "" }]],
  ["customer_item_id 300 chars", (g) => [{ ...g, customer_item_id: "i".repeat(300) }]],
  ["customer_item_id missing", ({ customer_item_id: _, ...rest }) => [rest]],
  ["duplicate customer_item_id", (g) => [g, { ...g }]],
  ["model a number", (g) => [{ ...g, model: 42 }]],
  ["unknown operation", (g) => [{ ...g, operation: "teleport" }]],
  ["input a number", (g) => [{ ...g, input: 3 }]],
  ["input missing", ({ input: _, ...rest }) => [rest]],
  ["messages a string", (g) => [{ ...g, input: { messages: "hi" } }]],
  ["messages empty", (g) => [{ ...g, input: { messages: [] } }]],
  ["role a number", (g) => [{ ...g, input: { messages: [{ role: 5, content: "hi" }] } }]],
  ["content deeply nested", (g) => [{ ...g, input: { messages: [{ role: "user", content: DEEP(5_000) }] } }]],
  ["extra input field nested 300 deep", (g) => [{ ...g, input: { messages: [{ role: "user", content: "hi" }], extra: DEEP(300) } }]],
  ["extra input field nested 20,000 deep", (g) => [{ ...g, input: { messages: [{ role: "user", content: "hi" }], extra: DEEP(20_000) } }]],
  ["temperature 1e400", (g) => [{ ...g, input: { messages: [{ role: "user", content: "hi" }], temperature: "__fuzz_1e400__" } }]],
  ["temperature a string", (g) => [{ ...g, input: { messages: [{ role: "user", content: "hi" }], temperature: "hot" } }]],
  ["max_output_tokens negative", (g) => [{ ...g, max_output_tokens: -1 }]],
  ["max_output_tokens fractional", (g) => [{ ...g, max_output_tokens: 1.5 }]],
  ["tools a string", (g) => [{ ...g, tools: "all" }]],
  ["unknown tool type", (g) => [{ ...g, tools: [{ type: "no_such_tool" }] }]],
  ["NUL in content", (g) => [{ ...g, input: { messages: [{ role: "user", content: "a\u0000b" }] } }]],
  ["lone surrogate in content", (g) => [{ ...g, input: { messages: [{ role: "user", content: "\ud800" }] } }]],
  ["metadata value an object", (g) => [{ ...g, metadata: { k: { nested: true } } }]],
];

const ID_FIELDS = ["custom_id", "customer_item_id"];

const finish = (text: string) => spliceDeep(text).replaceAll('"__fuzz_1e400__"', "1e400");

/**
 * Bodies a request schema refuses: the valid-looking sample with one site changed, kept only when the
 * published schema itself says the result is invalid (or it holds a string no endpoint stores); and,
 * where the body has `items[]`, the sample with one item the manifest contract refuses.
 */
export function badJsonBodies(schema: Schema): fc.Arbitrary<BadJson> {
  // Each optional field is kept with a probability of 1/4, drawn from the run's random numbers.
  const dice = fc.array(fc.nat(3), { minLength: 16, maxLength: 16 });
  const mutated = dice.chain((d) => {
    let i = 0;
    return badJsonBodiesFrom(
      schema,
      sampleOf(schema, "", () => d[i++ % d.length] === 0),
    );
  });
  // Open objects — objects that take any extra key — get their own share of the runs: they are few
  // among many sites, and the one place where only the nesting limit (256) stands between a client's
  // value and the database. Their body is the least that holds them (plus `items`, which makes a
  // quote or batch body whole), so the deep value gets past the other checks to the domain.
  const open = sitesOf(schema, sampleOf(schema)).filter((s) => s.path.length > 0 && isOpenObject(s.schema));
  if (open.length === 0) return mutated;
  const deep = fc.constantFrom(...open).chain((site) => {
    const sample = sampleOf(schema, "", (name) => name === site.path[0] || name === "items");
    return deepUnderOpenObject(site, sample).map((m) => ({ text: finish(JSON.stringify(setAt(sample, m.path, m.value))), note: m.note }));
  });
  return fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: deep });
}

function badJsonBodiesFrom(schema: Schema, sample: Json): fc.Arbitrary<BadJson> {
  const sites = sitesOf(schema, sample);
  const siteChanges = fc
    .constantFrom(...sites)
    .chain((site) => mutationAt(site, sample))
    .map((m) => ({ m, body: setAt(sample, m.path, m.value) }))
    .filter(({ m, body }) => m.force === true || violates(schema, mapDeep(body)) || holdsUnstorable(body))
    .chain(({ m, body }) => {
      const text = JSON.stringify(body);
      // Duplicate keys: JSON.parse keeps the last, so the refused value goes last and a valid one first.
      const top = m.path.length === 1 && typeof m.path[0] === "string" && m.value !== undefined ? m.path[0] : undefined;
      const dup = top !== undefined ? `{${JSON.stringify(top)}:${JSON.stringify(valueAt(sample, [top]))},${text.slice(1)}` : undefined;
      return fc.constantFrom(
        { text: finish(text), note: m.note },
        ...(dup && text.length > 2 ? [{ text: finish(dup), note: `${m.note} (after a valid duplicate key)` }] : []),
      );
    });
  // Duplicate ids: a list of objects keyed by an id the contract says is unique (spec/api.md §4, and
  // Anthropic's custom_id) — the schema can't say so, hence no `violates` check for these.
  const idLists = sites.filter(({ path }) => {
    const v = valueAt(sample, path);
    return Array.isArray(v) && v.some((e) => e !== null && typeof e === "object" && ID_FIELDS.some((f) => f in (e as object)));
  });
  const duplicates = idLists.map(({ path }) => {
    const list = valueAt(sample, path) as Json[];
    const at = path.join("/");
    return fc.constant({ text: finish(JSON.stringify(setAt(sample, path, [list[0]!, ...list]))), note: `${at}: duplicate id` });
  });
  const withDuplicates = duplicates.length > 0 ? fc.oneof({ weight: 6, arbitrary: siteChanges }, ...duplicates) : siteChanges;
  const itemsField = ["items", "sample_items"].find((f) => Array.isArray((sample as Record<string, Json>)?.[f]));
  if (!itemsField) return withDuplicates;
  const good = SAMPLE_BY_FIELD.items as Record<string, Json>;
  const itemChanges = fc.constantFrom(...BAD_ITEMS).map(([note, make]) => ({
    text: finish(JSON.stringify({ ...(sample as object), [itemsField]: make(good) })),
    note: `${itemsField}: ${note}`,
  }));
  return fc.oneof({ weight: 3, arbitrary: withDuplicates }, { weight: 1, arbitrary: itemChanges });
}

function mapDeep(v: Json): unknown {
  if (Array.isArray(v)) return v.map(mapDeep);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapDeep(x)]));
  return deepStandIn(v);
}
