import { describe, expect, it } from "vitest";
import { AppError } from "../../errors.js";
import { nativeLinesOf, REQUEST_STREAM_LIMITS, type RequestStreamLimits, type RequestStreamState } from "./request-stream.js";

const known = new Set(["claude-haiku-4"]);
const request = (id: string, text = "hi") => ({
  custom_id: id,
  params: { model: "claude-haiku-4", max_tokens: 5, messages: [{ role: "user", content: text }] },
});
const body = (n: number) => JSON.stringify({ requests: Array.from({ length: n }, (_, i) => request(`r-${i}`)) });

/** The bytes in chunks of `size`, cut anywhere (inside strings, numbers and UTF-8 characters). */
async function* chunks(bytes: Buffer | string, size = 7): AsyncGenerator<Buffer> {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function read(source: AsyncIterable<Buffer>, limits?: Partial<RequestStreamLimits>) {
  const state: RequestStreamState = { customIds: [], bytes: 0 };
  const lines: string[] = [];
  for await (const out of nativeLinesOf(source, known, state, { ...REQUEST_STREAM_LIMITS, ...limits }))
    lines.push(...out.toString().split("\n").filter(Boolean));
  return { lines, state };
}

async function refused(source: AsyncIterable<Buffer>, limits?: Partial<RequestStreamLimits>): Promise<AppError> {
  try {
    await read(source, limits);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("expected the body to be refused");
}

describe("the streamed Anthropic create body", () => {
  it("yields one native line per request, in order, from a body cut into tiny chunks", async () => {
    const { lines, state } = await read(chunks(body(50), 3));
    expect(lines).toHaveLength(50);
    expect(JSON.parse(lines[49]!)).toMatchObject({ customer_item_id: "r-49", model: "claude-haiku-4", max_output_tokens: 5 });
    expect(state.customIds[0]).toBe("r-0");
    expect(state.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("translates each request as it arrives: lines come out before the body has ended", async () => {
    let sent = 0;
    const total = Buffer.from(body(2000));
    async function* slow() {
      for await (const c of chunks(total, 4096)) {
        sent += c.length;
        yield c;
      }
    }
    const it = nativeLinesOf(slow(), known, { customIds: [], bytes: 0 });
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(sent).toBeLessThan(total.length / 10);
    await it.return(undefined);
  });

  it("keeps multi-byte characters split across chunks, and refuses invalid UTF-8", async () => {
    const { lines } = await read(chunks(JSON.stringify({ requests: [request("a", "héllo → 世界 🎉")] }), 1));
    expect(JSON.parse(lines[0]!).input.messages[0].content).toBe("héllo → 世界 🎉");
    const bad = Buffer.concat([
      Buffer.from('{"requests":[{"custom_id":"a","params":{"model":"claude-haiku-4","max_tokens":5,"messages":[{"role":"user","content":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}]}}]}'),
    ]);
    expect(await refused(chunks(bad))).toMatchObject({ code: "invalid_json", message: expect.stringContaining("UTF-8") });
  });

  it("refuses a body past the limit with 413, and a request past the per-request limit", async () => {
    expect(await refused(chunks(body(100), 1024), { maxBytes: 2000 })).toMatchObject({ status: 413 });
    const big = JSON.stringify({ requests: [request("a"), request("b", "x".repeat(50_000))] });
    const e = await refused(chunks(big, 1024), { maxRequestBytes: 10_000 });
    expect(e).toMatchObject({ status: 400, details: { errors: [{ path: "/requests/1" }] } });
  });

  it("refuses more requests than a batch holds", async () => {
    const e = await refused(chunks(body(4), 64), { maxRequests: 3 });
    expect(e.message).toContain("/requests/3");
    expect(e.message).toContain("at most 3 requests");
  });

  it("rejects a request whose params can't be run alone: no line, its reason kept, the others go on", async () => {
    const bad = {
      custom_id: "r-x",
      params: { ...request("r-x").params, messages: [{ role: "user", content: [{ type: "document", source: {} }] }] },
    };
    const noMax = { custom_id: "m", params: { model: "claude-haiku-4", messages: [{ role: "user", content: "hi" }] } };
    const { lines, state } = await read(chunks(JSON.stringify({ requests: [request("a"), bad, noMax, request("b")] })));
    expect(lines.map((l) => JSON.parse(l).customer_item_id)).toEqual(["a", "b"]);
    expect(state.customIds).toEqual(["a", "r-x", "m", "b"]);
    expect(state.rejected).toEqual([
      {
        index: 1,
        custom_id: "r-x",
        message: '/params/messages/0/content/0/type: a "document" block in a user message is not supported by BatchRouter items.',
      },
      { index: 2, custom_id: "m", message: expect.stringContaining("/params/max_tokens: ") },
    ]);
  });

  it("asks the native item's own checks of each translated request", async () => {
    const state: RequestStreamState = { customIds: [], bytes: 0 };
    const seen: number[] = [];
    const check = (_item: unknown, i: number) => (seen.push(i), i === 1 ? "too long for the model's context" : null);
    const out: string[] = [];
    for await (const b of nativeLinesOf(chunks(body(3)), known, state, REQUEST_STREAM_LIMITS, check)) out.push(b.toString());
    expect(seen).toEqual([0, 1, 2]);
    expect(out.join("").split("\n").filter(Boolean)).toHaveLength(2);
    expect(state.rejected).toEqual([{ index: 1, custom_id: "r-1", message: "/params: too long for the model's context." }]);
  });

  it("refuses the whole create for a problem of the envelope, naming the request", async () => {
    const dup = await refused(chunks(JSON.stringify({ requests: [request("a"), request("a")] })));
    expect(dup.message).toContain('/requests/1/custom_id (custom_id "a"): duplicate custom_id, already used by requests[0]');
    const badId = await refused(chunks(JSON.stringify({ requests: [request("a b")] })));
    expect(badId.details).toMatchObject({ errors: [{ path: "/requests/0/custom_id" }] });
    for (const r of [{ custom_id: "p" }, { custom_id: "p", params: [1] }, { ...request("p"), other: 1 }]) {
      expect((await refused(chunks(JSON.stringify({ requests: [r] })))).status).toBe(400);
    }
  });

  it("applies the edge guards of JSON bodies (NUL, lone surrogates, overflowing numbers) to each request: a 400 for the create", async () => {
    for (const text of ['"a\\u0000b"', '"\\ud800"']) {
      const raw = JSON.stringify({ requests: [request("a", "PLACE")] }).replace('"PLACE"', text);
      expect(await refused(chunks(raw))).toMatchObject({ status: 400, message: expect.stringContaining("/params/messages/0/content") });
    }
    // In a key too: the key can't be quoted in an errored result's message either.
    const key = JSON.stringify({ requests: [request("a")] }).replace('"max_tokens":5', '"max_tokens":5,"k\\u0000":1');
    expect((await refused(chunks(key))).status).toBe(400);
    const inf = JSON.stringify({ requests: [request("a")] }).replace('"max_tokens":5', '"max_tokens":1e400');
    expect(await refused(chunks(inf))).toMatchObject({ status: 400, message: expect.stringContaining("/params/max_tokens") });
  });

  it("refuses a body naming `requests` twice, whatever the second value", async () => {
    const one = JSON.stringify(request("a"));
    for (const second of ['"x"', "1e308", `[${JSON.stringify(request("b"))}]`, "[]"]) {
      const raw = `{"requests": [${one}], "requests": ${second}}`;
      expect(await refused(chunks(raw))).toMatchObject({ status: 400, message: expect.stringContaining("more than once") });
    }
    // A key named so deeper down is just a key.
    const nested = JSON.stringify({ requests: [request("a")] }).replace('"max_tokens":5', '"max_tokens":5,"metadata":{"requests":1}');
    expect((await read(chunks(nested))).state.customIds).toEqual(["a"]);
  });

  it("refuses what isn't {requests: [...]}", async () => {
    expect(await refused(chunks('{"requests": [1, '))).toMatchObject({ code: "invalid_request" });
    expect(await refused(chunks('{"requests": [{"custom_id": "a", '))).toMatchObject({ code: "invalid_json" });
    expect(await refused(chunks('{"requests": []}'))).toMatchObject({ message: expect.stringContaining("at least one request") });
    expect(await refused(chunks('{"other": [{"a": 1}]}'))).toMatchObject({ message: expect.stringContaining("Unknown field `other`") });
    expect(await refused(chunks("[[1]]"))).toMatchObject({ message: expect.stringContaining("JSON object") });
    expect(await refused(chunks('{"requests": {"a": {}}}'))).toMatchObject({ message: expect.stringContaining("array") });
  });
});
