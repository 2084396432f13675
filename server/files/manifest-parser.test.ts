import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkHeaders } from "./manifest-headers.js";
import { parseManifest, type ParsedItem, type ParseOptions, type ParseResult } from "./manifest-parser.js";

// ---- helpers ----

const chat = (id: string, text = "hi", extra: object = {}) =>
  JSON.stringify({ customer_item_id: id, model: "gpt-4o-mini", input: { messages: [{ role: "user", content: text }] }, ...extra });
const oai = (id: string, url: string, body: object) =>
  JSON.stringify({ custom_id: id, method: "POST", url, body: { model: "gpt-4o-mini", ...body } });
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

// Yields the bytes in chunks of the given sizes (cycled); odd chunks as plain Uint8Arrays.
async function* chunked(buf: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let p = 0, i = 0; p < buf.length; i++) {
    const piece = buf.subarray(p, p + sizes[i % sizes.length]!);
    yield i % 2 ? new Uint8Array(piece) : piece;
    p += piece.length;
  }
}

async function run(file: string | Buffer, opts: Partial<ParseOptions> = {}, sizes?: number[]) {
  const buf = typeof file === "string" ? Buffer.from(file) : file;
  const batches: ParsedItem[][] = [];
  const texts: string[] = [];
  const result = await parseManifest(chunked(buf, sizes ?? [Math.max(buf.length, 1)]), {
    onItems: async (b, t) => {
      batches.push(b);
      texts.push(...t.toString("utf8").split("\n"));
      expect(texts.length).toBe(batches.flat().length); // one text per item
    },
    ...opts,
  });
  // The items as stored: each one's JSON text, parsed.
  const items = batches.flat().map((p, k) => ({ ...p, item: JSON.parse(texts[k]!) }));
  return { result, batches, items, texts };
}

const codes = (r: ParseResult) => r.errors.map((e) => [e.line, e.code]);

// ---- valid files ----

describe("valid manifests", () => {
  it("parses a native file: items in order, operations, line numbers, bytes, sha256", async () => {
    const lines = [
      chat("a"),
      JSON.stringify({ customer_item_id: "b", input: { input: "Say hi", instructions: "be brief" }, max_output_tokens: 10 }),
      JSON.stringify({ customer_item_id: "c", operation: "embeddings", input: { input: ["x", "y"] } }),
      JSON.stringify({
        customer_item_id: "d",
        input: { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }] },
      }),
    ];
    const file = `${lines.join("\n")}\n`;
    const { result, items, batches, texts } = await run(file);
    expect(result).toEqual({ item_count: 4, bytes: Buffer.byteLength(file), sha256: sha(file), format: "native", errors: [] });
    expect(batches).toHaveLength(1);
    expect(items.map((i) => [i.line, i.item.customer_item_id, i.operation, i.bytes])).toEqual([
      [1, "a", "responses", lines[0]!.length],
      [2, "b", "responses", lines[1]!.length],
      [3, "c", "embeddings", lines[2]!.length],
      [4, "d", "vision", lines[3]!.length],
    ]);
    expect(items[1]!.item).toEqual(JSON.parse(lines[1]!));
    // A native line is stored as it was sent (its item is the line, so nothing is re-serialised).
    expect(texts).toEqual(lines);
  });

  it("applies defaultOperation to items that don't say", async () => {
    const file = `${JSON.stringify({ customer_item_id: "e", input: { input: "text" } })}\n`;
    const { items } = await run(file, { defaultOperation: "embeddings" });
    expect(items[0]!.operation).toBe("embeddings");
  });

  it("parses an OpenAI batch file into native items (chat, responses, embeddings, vision)", async () => {
    const img = [
      { type: "text", text: "what is this?" },
      { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
    ];
    const file = [
      oai("r1", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], max_tokens: 50, temperature: 0 }),
      oai("r2", "/v1/responses", { input: "hello", max_output_tokens: 20 }),
      oai("r3", "/v1/embeddings", { input: ["a", "b"] }),
      oai("r4", "/v1/chat/completions", { messages: [{ role: "user", content: img }] }),
    ].join("\n");
    const { result, items, texts } = await run(file);
    expect(result.format).toBe("openai");
    expect(result.errors).toEqual([]);
    // An OpenAI line is stored as the native item it was turned into.
    expect(texts).toEqual(items.map((i) => JSON.stringify(i.item)));
    expect(items.map((i) => i.operation)).toEqual(["responses", "responses", "embeddings", "vision"]);
    expect(items[0]!.item).toEqual({
      customer_item_id: "r1",
      operation: "responses",
      model: "gpt-4o-mini",
      max_output_tokens: 50,
      input: { messages: [{ role: "user", content: "hi" }], temperature: 0 },
    });
    expect(items[2]!.item.input).toEqual({ input: ["a", "b"] });
  });

  it("handles CRLF, blank and whitespace-only lines, a BOM and a last line without newline", async () => {
    const file = `\uFEFF${chat("a")}\r\n\r\n   \n${chat("b")}\r\n\t\r\n${chat("c")}`;
    const { result, items } = await run(file);
    expect(result.errors).toEqual([]);
    expect(result.item_count).toBe(3);
    expect(items.map((i) => [i.line, i.bytes])).toEqual([
      [1, chat("a").length],
      [4, chat("b").length],
      [6, chat("c").length],
    ]);
  });

  it("reads a Node stream", async () => {
    const file = `${chat("a")}\n${chat("b")}\n`;
    const { result } = await run(file);
    const fromStream = await parseManifest(Readable.from([Buffer.from(file)]), { onItems: async () => {} });
    expect(fromStream).toEqual(result);
  });
});

// ---- bad lines ----

describe("bad lines", () => {
  const cases: [string, string, string, RegExp][] = [
    ["bad JSON", "{not json", "invalid_json", /^invalid JSON: /],
    ["an array", "[]", "invalid_json", /JSON object, found an array/],
    ["a number", "42", "invalid_json", /found a number/],
    ["null", "null", "invalid_json", /found null/],
    ["a string", '"x"', "invalid_json", /found a string/],
    ["a wrong id type", JSON.stringify({ customer_item_id: 5, input: { input: "x" } }), "invalid_item", /^customer_item_id: /],
    ["an empty id", JSON.stringify({ customer_item_id: "", input: { input: "x" } }), "invalid_item", /^customer_item_id: /],
    ["a 257-character id", chat("x".repeat(257)), "invalid_item", /^customer_item_id: /],
    ["a missing input", JSON.stringify({ customer_item_id: "a" }), "invalid_item", /^input: /],
    ["an unknown field", chat("a", "hi", { colour: "red" }), "invalid_item", /Unrecognized key: "colour"/],
    ["an unknown operation", chat("a", "hi", { operation: "chat" }), "invalid_item", /^operation: /],
    ["empty messages", JSON.stringify({ customer_item_id: "a", input: { messages: [] } }), "invalid_item", /^input\.messages: /],
    [
      "a bad role",
      JSON.stringify({ customer_item_id: "a", input: { messages: [{ role: "bot", content: "x" }] } }),
      "invalid_item",
      /^input\.messages\[0\]\.role: /,
    ],
    [
      "no messages nor input",
      JSON.stringify({ customer_item_id: "a", input: { temperature: 0 } }),
      "invalid_item",
      /^input: needs `messages`/,
    ],
    ["embeddings without input.input", chat("a", "hi", { operation: "embeddings" }), "invalid_item", /^input\.input: /],
    [
      "17 metadata pairs",
      chat("a", "hi", { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }),
      "invalid_item",
      /^metadata: at most 16/,
    ],
    ["a fractional token cap", chat("a", "hi", { max_output_tokens: 1.5 }), "invalid_item", /^max_output_tokens: /],
    ["a string token cap", chat("a", "hi", { max_output_tokens: "64" }), "invalid_item", /^max_output_tokens: /],
    [
      "an OpenAI GET",
      JSON.stringify({ custom_id: "a", method: "GET", url: "/v1/responses", body: { model: "m", input: "x" } }),
      "invalid_item",
      /^method: /,
    ],
    ["an OpenAI unknown url", oai("a", "/v1/moderations", { input: "x" }), "invalid_item", /^url: /],
    [
      "an OpenAI body without model",
      JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/responses", body: { input: "x" } }),
      "invalid_item",
      /^body\.model: /,
    ],
    [
      "an OpenAI bad message",
      oai("a", "/v1/chat/completions", { messages: [{ role: "user" }] }),
      "invalid_item",
      /^body\.messages\[0\]\.content: /,
    ],
    [
      "an OpenAI negative max_tokens",
      oai("a", "/v1/chat/completions", { messages: [{ role: "user", content: "x" }], max_tokens: -1 }),
      "invalid_item",
      /^body\.max_tokens: /,
    ],
  ];
  it.each(cases)("reports %s", async (_name, line, code, message) => {
    const ok = (id: string) => (line.includes("custom_id") ? oai(id, "/v1/responses", { input: "x" }) : chat(id));
    const { result, batches } = await run(`${ok("ok")}\n\n${line}\n${ok("ok2")}\n`);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ line: 3, code, message: expect.stringMatching(message) });
    expect(result.item_count).toBe(3);
    expect(batches).toEqual([]);
  });

  it("uses the parser's own message for bad JSON and names the item when known", async () => {
    const expected = (() => {
      try {
        JSON.parse("{not json");
      } catch (e) {
        return (e as Error).message;
      }
    })();
    const { result } = await run(`{not json\n${chat("a", "hi", { colour: 1 })}\n`);
    expect(result.errors[0]!.message).toBe(`invalid JSON: ${expected}`);
    expect(result.errors[1]!.item).toBe("a");
  });

  it("reports a line nested too deeply for the schema as invalid, instead of throwing", async () => {
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    const { result } = await run(`{"customer_item_id":"a","input":{"messages":[{"role":"user","content":"x"}],"input":${deep}}}\n`);
    expect(result.errors).toEqual([{ item: "a", line: 1, code: "invalid_item", message: expect.any(String) }]);
  });

  it("reports a duplicate id with the line that used it first, in both formats", async () => {
    const native = await run([chat("a"), chat("b"), "", JSON.stringify({ customer_item_id: "b" }), chat("b")].join("\n"));
    expect(native.result.errors).toEqual([
      expect.objectContaining({ line: 4, code: "invalid_item" }),
      { item: "b", line: 5, code: "duplicate_customer_item_id", message: 'customer_item_id "b" is already used on line 2' },
    ]);
    const openai = await run([oai("x", "/v1/responses", { input: "1" }), oai("x", "/v1/responses", { input: "2" })].join("\n"));
    expect(openai.result.errors).toEqual([
      { item: "x", line: 2, code: "duplicate_customer_item_id", message: 'custom_id "x" is already used on line 1' },
    ]);
  });

  it("reports mixed formats once, on the first line that differs", async () => {
    const o = oai("o", "/v1/responses", { input: "x" });
    const { result } = await run([chat("a"), o, chat("b"), oai("p", "/v1/responses", { input: "y" })].join("\n"));
    expect(codes(result)).toEqual([[2, "mixed_formats"]]);
    expect(result.errors[0]!.message).toMatch(/OpenAI batch line but line 1 is a native item/);
    expect(result.format).toBe("native");
  });

  it("reports invalid UTF-8 (bad byte, overlong, surrogate, cut sequence) but accepts real multi-byte text", async () => {
    const bad = ["ff", "c0af", "eda080", "e282"].map((hex) =>
      Buffer.concat([Buffer.from('{"customer_item_id":"'), Buffer.from(hex, "hex"), Buffer.from('","input":{"input":"x"}}\n')]),
    );
    const good = Buffer.from(`${chat("é", "日本語 😊 ü")}\n`);
    const { result, items } = await run(Buffer.concat([good, ...bad]));
    expect(codes(result)).toEqual([
      [2, "invalid_utf8"],
      [3, "invalid_utf8"],
      [4, "invalid_utf8"],
      [5, "invalid_utf8"],
    ]);
    expect(items).toEqual([]);
    const alone = await run(good, {}, [1]);
    expect(alone.items[0]!.item.input).toEqual({ messages: [{ role: "user", content: "日本語 😊 ü" }] });
  });

  it("drops a line over maxLineBytes without losing count of lines, whatever the chunking", async () => {
    const long = chat("big", "x".repeat(200));
    const exact = chat("edge", "y".repeat(150 - chat("edge", "").length)); // exactly at the limit, then CRLF
    const file = `${chat("a")}\n${long}\r\n${exact}\r\n${chat("b")}`;
    for (const sizes of [[file.length], [1], [7, 3, 50]]) {
      const { result } = await run(file, { maxLineBytes: 150 }, sizes);
      expect(codes(result)).toEqual([[2, "line_too_large"]]);
      expect(result.item_count).toBe(4);
      expect(result.sha256).toBe(sha(file));
    }
  });

  it("lists at most maxErrors errors, then counts the rest unchecked", async () => {
    const file = `${Array.from({ length: 130 }, () => "nope").join("\n")}\n${chat("a")}\n`;
    const { result } = await run(file);
    expect(result.errors).toHaveLength(100);
    expect(result.errors.at(-1)!.line).toBe(100);
    expect(result).toMatchObject({ item_count: 131, unchecked_lines: 31, sha256: sha(file), bytes: file.length });
    expect((await run(file, { maxErrors: 5 })).result.errors).toHaveLength(5);
  });

  it("reports an empty file and a file of blank lines", async () => {
    for (const file of ["", "\n\r\n  \n"]) {
      const { result } = await run(file);
      expect(result).toMatchObject({ item_count: 0, format: "empty", errors: [{ line: 0, code: "empty_manifest" }] });
    }
  });
});

// ---- limits, streaming, onItems ----

describe("limits and streaming", () => {
  it("aborts after maxLines items and after maxBytes bytes", async () => {
    const file = [chat("a"), "", chat("b"), chat("c"), chat("d")].join("\n");
    const lines = await run(file, { maxLines: 2 });
    expect(lines.result).toMatchObject({ aborted: "too_many_lines", errors: [{ line: 4, code: "too_many_lines" }] });
    expect(lines.batches).toEqual([]);
    const cut = chat("a").length + 5;
    for (const sizes of [[file.length], [1], [13]]) {
      const bytes = await run(file, { maxBytes: cut }, sizes);
      expect(bytes.result).toMatchObject({
        aborted: "too_large",
        bytes: cut,
        sha256: sha(file.slice(0, cut)),
        errors: [{ line: 3, code: "too_large" }],
      });
    }
  });

  it("leaves a Node stream undestroyed when it stops early, so the caller can still answer", async () => {
    const stream = Readable.from([Buffer.from(`${chat("a")}\n`), Buffer.from(`${chat("b")}\n`), Buffer.from(`${chat("c")}\n`)]);
    const result = await parseManifest(stream, { onItems: async () => {}, maxLines: 1 });
    expect(result.aborted).toBe("too_many_lines");
    expect(stream.destroyed).toBe(false);
  });

  it("calls onItems with every item once, in order, in batches of 1000, awaiting each", async () => {
    const file = `${Array.from({ length: 2500 }, (_, i) => chat(`id-${i}`)).join("\n")}\n`;
    let busy = false;
    const batches: number[][] = [];
    const source = (async function* () {
      for await (const c of chunked(Buffer.from(file), [4096])) {
        expect(busy).toBe(false); // backpressure: no read while a batch is being stored
        yield c;
      }
    })();
    const result = await parseManifest(source, {
      onItems: async (b) => {
        busy = true;
        await new Promise((r) => setTimeout(r, 2));
        batches.push(b.map((i) => i.line));
        busy = false;
      },
    });
    expect(result.errors).toEqual([]);
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(batches.flat()).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it("stops calling onItems after the first error, and propagates an onItems failure", async () => {
    const lines = Array.from({ length: 2500 }, (_, i) => (i === 1500 ? "{" : chat(`id-${i}`)));
    const { batches, result } = await run(lines.join("\n"));
    expect(batches.map((b) => b.length)).toEqual([1000]);
    expect(codes(result)).toEqual([[1501, "invalid_json"]]);
    await expect(
      parseManifest(chunked(Buffer.from(chat("a")), [5]), {
        onItems: async () => {
          throw new Error("db down");
        },
      }),
    ).rejects.toThrow("db down");
  });

  it("refuses decoded text chunks", async () => {
    await expect(parseManifest(Readable.from(["{}"]), { onItems: async () => {} })).rejects.toThrow(TypeError);
  });

  it("gives the same result for any chunking (boundaries inside UTF-8 characters and CRLF)", async () => {
    const at = (n: number) => chat("e", "é".repeat((n - chat("e", "").length) / 2)); // n bytes long
    const pool = [
      chat("a", "ü😊"),
      chat("b", "日本"),
      "",
      "  ",
      " ".repeat(121),
      chat("a"),
      "{bad",
      "[]",
      chat("c", "z".repeat(90)),
      oai("o", "/v1/responses", { input: "€" }),
      JSON.stringify({ customer_item_id: "d" }),
      at(120),
      at(122),
    ];
    const raw = [Buffer.from([0xf0, 0x9f]), Buffer.from([0xff])];
    const line = fc.oneof(fc.constantFrom(...pool.map((l) => Buffer.from(l))), fc.constantFrom(...raw));
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const file = fc
      .tuple(fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n")), { maxLength: 25 }), fc.boolean(), fc.boolean())
      .map(([ls, trailing, withBom]) =>
        Buffer.concat([
          ...(withBom ? [bom] : []),
          ...ls.flatMap(([l, nl], i) => (i < ls.length - 1 || trailing ? [l, Buffer.from(nl)] : [l])),
        ]),
      );
    await fc.assert(
      fc.asyncProperty(file, fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), async (buf, sizes) => {
        const whole = await run(buf, { maxLineBytes: 120 });
        expect(whole.result.sha256).toBe(sha(buf));
        expect(await run(buf, { maxLineBytes: 120 }, sizes)).toEqual(whole);
        expect(await run(buf, { maxLineBytes: 120 }, [1])).toEqual(whole);
      }),
      { numRuns: 150 },
    );
  });
});

// ---- headers ----

describe("checkHeaders", () => {
  const file = `${chat("a")}\n${chat("b")}\n`;
  it("accepts matching headers (any hex case) and reports mismatches and malformed values", async () => {
    const { result } = await run(file);
    expect(checkHeaders(result, {})).toEqual([]);
    expect(checkHeaders(result, { itemCount: "2", sha256: sha(file).toUpperCase() })).toEqual([]);
    const bad = checkHeaders(result, { itemCount: "3", sha256: "0".repeat(64) });
    expect(bad).toEqual([
      { line: 0, code: "item_count_mismatch", message: expect.stringMatching(/says 3 items but the manifest has 2/) },
      { line: 0, code: "sha256_mismatch", message: expect.stringContaining(sha(file)) },
    ]);
    for (const itemCount of ["", "two", "-1", "1.0"]) expect(checkHeaders(result, { itemCount })[0]!.code).toBe("invalid_header");
    for (const sha256 of ["", "abc", `sha256=${sha(file)}`]) expect(checkHeaders(result, { sha256 })[0]!.code).toBe("invalid_header");
  });

  it("does not compare counts of an aborted parse", async () => {
    const { result } = await run(file, { maxLines: 1 });
    expect(checkHeaders(result, { itemCount: "2", sha256: sha(file) })).toEqual([]);
  });
});
