import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkLine, fastNative, fastOpenAi, IdTable } from "./manifest-line.js";

// The per-line checks behind parseManifest (whose own tests are in manifest-parser.test.ts).

const chat = (id: string, text = "hi", extra: object = {}) =>
  JSON.stringify({ customer_item_id: id, model: "gpt-4o-mini", input: { messages: [{ role: "user", content: text }] }, ...extra });
const oai = (id: string, url: string, body: object) =>
  JSON.stringify({ custom_id: id, method: "POST", url, body: { model: "gpt-4o-mini", ...body } });

describe("fast path", () => {
  // Mostly-valid values with the odd wrong one (weight 12 : 1 at each field): near misses are where a
  // hand-written check is most likely to disagree with zod.
  const str = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("", "x".repeat(201), "x".repeat(257), "x".repeat(501)));
  const bad = fc.oneof(str, fc.constantFrom("chat", "bot", "/v1/x", 0, -1, 1.5, 1_000_001, 2 ** 53 + 2, true, null, [], {}));
  const w = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
  const opt = { requiredKeys: [] as never[] };
  const text = fc.string({ minLength: 1, maxLength: 5 });
  const imageUrl = fc.oneof(
    text,
    fc.constantFrom("https://img.example/a.png", "data:image/png;base64,AAAA", "file:///etc/passwd", "http://img.example/a.png"),
  );
  const part = fc.oneof(
    fc.record({ type: w(fc.constantFrom("text", "input_text")), text: w(text) }, opt),
    fc.record(
      { type: w(fc.constantFrom("image_url", "input_image", "x")), image_url: w(fc.oneof(imageUrl, fc.record({ url: w(imageUrl) }))) },
      opt,
    ),
  );
  const message = fc.record(
    {
      role: w(fc.constantFrom("system", "developer", "user", "assistant", "tool")),
      content: w(fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null), fc.array(w(part), { maxLength: 3 }))),
      name: text,
    },
    { requiredKeys: ["role", "content"] },
  );
  const extras = {
    instructions: w(text),
    max_tokens: w(fc.integer({ min: 1, max: 99 })),
    max_output_tokens: w(fc.integer({ min: 1, max: 99 })),
    temperature: w(fc.double({ min: 0, max: 2, noNaN: true })),
    top_p: w(fc.double({ min: 0, max: 1, noNaN: true })),
  };
  const tools = w(fc.array(fc.record({ type: w(fc.constantFrom("function", "web_search", "no_such_tool")) }, opt), { maxLength: 2 }));
  const input = fc.oneof(
    fc.record({ messages: w(fc.array(w(message), { minLength: 1, maxLength: 3 })), tools, ...extras }, { requiredKeys: ["messages"] }),
    fc.record(
      { input: w(fc.oneof(text, fc.array(w(fc.oneof(message, part)), { minLength: 1, maxLength: 3 }))), tools, ...extras },
      { requiredKeys: ["input"] },
    ),
    fc.record(
      { input: w(fc.oneof(text, fc.array(w(text), { minLength: 1, maxLength: 3 }))), dimensions: w(fc.integer({ min: 1, max: 99 })) },
      { requiredKeys: ["input"] },
    ),
    fc.record({ messages: bad, input: bad, ...extras, dimensions: bad, tools }, opt),
  );
  const item = fc
    .record(
      {
        customer_item_id: w(fc.constantFrom("a", "b-1", "x".repeat(256))),
        operation: w(fc.constantFrom("responses", "embeddings", "vision")),
        model: w(fc.constantFrom("gpt-4o-mini", "x".repeat(200))),
        input: w(input),
        metadata: w(fc.dictionary(fc.string({ maxLength: 3 }), w(fc.string({ maxLength: 3 })), { maxKeys: 18 })),
        max_output_tokens: w(fc.integer({ min: 1, max: 1_000_000 })),
      },
      { requiredKeys: ["customer_item_id", "input"] },
    )
    .chain((core) =>
      fc.oneof(
        { arbitrary: fc.constant(core), weight: 6 },
        fc.record({ model_options: fc.array(text, { maxLength: 2 }), colour: bad }, opt).map((more) => ({ ...more, ...core })),
        fc.constantFrom("customer_item_id", "input").map((k) => Object.fromEntries(Object.entries(core).filter(([key]) => key !== k))),
      ),
    );
  const openai = fc.record(
    {
      custom_id: w(fc.constantFrom("r1", "x".repeat(256))),
      method: w(fc.constant("POST")),
      url: w(fc.constantFrom("/v1/chat/completions", "/v1/responses", "/v1/embeddings")),
      body: w(
        fc
          .tuple(
            w(fc.constantFrom("gpt-4o-mini", "x".repeat(201))),
            input,
            fc.option(w(fc.integer({ min: -1, max: 9 })), { nil: undefined }),
          )
          .map(([model, i, max_completion_tokens]) => ({ model, ...i, max_completion_tokens })),
      ),
    },
    { requiredKeys: [] },
  );
  // Through JSON, as the parser sees them; plus hand-written limits on both sides of each bound, and
  // `__proto__` keys (which zod's copy drops), that random values seldom hit.
  const viaJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  const protos = [
    '{"customer_item_id":"a","input":{"__proto__":{"x":1},"input":"hi"}}',
    '{"customer_item_id":"a","input":{"input":"hi"},"metadata":{"__proto__":"v"}}',
    '{"custom_id":"a","method":"POST","url":"/v1/responses","body":{"model":"m","input":"x","__proto__":{}}}',
    ...[0, 1].flatMap((d) => [
      chat("x".repeat(256 + d)),
      chat("a", "hi", { model: "m".repeat(200 + d) }),
      chat("a", "hi", { max_output_tokens: 1_000_000 + d }),
      chat("a", "hi", { metadata: Object.fromEntries(Array.from({ length: 16 + d }, (_, i) => [`k${i}`, "v".repeat(500)])) }),
      chat("a", "hi", { metadata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(500 + d)])) }),
      JSON.stringify({ customer_item_id: "e", operation: "embeddings", input: { input: Array.from({ length: 2048 + d }, () => "t") } }),
      oai("x".repeat(256 + d), "/v1/embeddings", { input: "t", dimensions: 1 - d }),
      oai("t", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], temperature: 2 + d / 1000, top_p: 1 - d * 1.5 }),
    ]),
  ];

  const same = (value: Record<string, unknown>, format: "native" | "openai", op?: "embeddings") => {
    const fast = checkLine(value, format, op, true);
    const full = checkLine(value, format, op, false);
    expect(fast).toStrictEqual(full);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(full)); // same key order too
  };

  it("makes exactly the zod decisions, with the same items, on generated inputs", () => {
    fc.assert(
      fc.property(item, fc.constantFrom(undefined, "embeddings" as const), (v, op) => same(viaJson(v), "native", op)),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(openai, (v) => same(viaJson(v), "openai")),
      { numRuns: 3000 },
    );
    for (const p of protos) same(JSON.parse(p), p.includes("custom_id") ? "openai" : "native");
  });

  it("is taken for the common shapes (so the comparison above is not vacuous)", () => {
    const common = [
      chat("a", "hi", { metadata: { k: "v" }, max_output_tokens: 5 }),
      JSON.stringify({ customer_item_id: "e", operation: "embeddings", input: { input: ["a"] } }),
    ];
    for (const l of common) expect(fastNative(JSON.parse(l))).toBeDefined();
    const items = fc.sample(item, { numRuns: 3000, seed: 7 }).map(viaJson);
    const lines = fc.sample(openai, { numRuns: 3000, seed: 7 }).map(viaJson);
    const accepted = (vs: Record<string, unknown>[], f: "native" | "openai") =>
      vs.filter((v) => checkLine(v, f, undefined, false).ok).length;
    // Most zod-accepted samples take the fast path, and there are hundreds of them.
    expect(items.filter((v) => fastNative(v)).length).toBeGreaterThan(Math.max(300, accepted(items, "native") * 0.9));
    expect(lines.filter((v) => fastOpenAi(v)).length).toBeGreaterThan(Math.max(100, accepted(lines, "openai") * 0.9));
  });
});

describe("IdTable", () => {
  it("returns the first line of each id across growth, for ids of any length", () => {
    const t = new IdTable(4);
    const ids = Array.from({ length: 50_000 }, (_, i) => (i % 7 === 0 ? `é-${i}-${"x".repeat(i % 300)}` : `id-${i}`));
    ids.forEach((id, i) => expect(t.firstLineOf(id, i + 1)).toBe(0));
    ids.forEach((id, i) => expect(t.firstLineOf(id, 999_999)).toBe(i + 1));
    expect(t.firstLineOf("", 1)).toBe(0);
    expect(t.firstLineOf("id-1 ", 2)).toBe(0);
  });

  it("holds a manifest's worth of ids in well under a power of two's room, and takes more than it was sized for", () => {
    const t = new IdTable(4, 100_000);
    for (let i = 1; i <= 100_000; i++) expect(t.firstLineOf(`id-${i}`, i)).toBe(0);
    // 16 bytes a slot at ≤ 70% load: 2.3 MB, where doubling to 2¹⁸ slots would take 4.2 MB.
    expect(t.bytes).toBe(16 * Math.ceil(100_000 / 0.7));
    for (let i = 100_001; i <= 250_000; i++) expect(t.firstLineOf(`id-${i}`, i)).toBe(0);
    for (let i = 1; i <= 250_000; i += 997) expect(t.firstLineOf(`id-${i}`, 1)).toBe(i);
    expect(t.firstLineOf("id-0", 1)).toBe(0);
  });
});
