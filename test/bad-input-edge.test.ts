import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBatch, idemKey, makeItems } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// Issue 9, items 5–10: inputs refused at the edge with a 400 (or 415) in the envelope — never a 500,
// never a silent change — and nothing stored.

let srv: TestServer;
let agent: Awaited<ReturnType<typeof registerAgent>>;
let key: string;
let batchId: string;
beforeAll(async () => {
  srv = await startTestServer();
  agent = await registerAgent(srv.base);
  key = agent.test_api_key;
  const made = await createBatch(srv.base, key, { items: makeItems(1) });
  batchId = made.body.batch.id;
});
afterAll(async () => srv?.close());

const item = (input: object, extra: object = {}) => ({ customer_item_id: "a", model: "gpt-4o-mini", input, ...extra });
const chat = (content: unknown, extra: object = {}) => ({ messages: [{ role: "user", content }], ...extra });

async function snapshot() {
  const db = srv.database.db;
  const counts = await Promise.all(
    ["orgs", "api_keys", "quotes", "batches", "files", "feedback", "idempotency_keys"].map((t) => db(t).count<{ n: string }[]>("* as n")),
  );
  return counts.map((c) => c[0]!.n).join(",");
}

function expectEnvelope(res: { status: number; body: any; headers: Headers }, status: number, code: string, label: string) {
  expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.body.error.code, label).toBe(code);
  expect(res.body.error.request_id, label).toBe(res.headers.get("x-request-id"));
}

describe("item inputs that are refused", () => {
  it("image URLs other than https and data:, unknown tool types, out-of-range or overflowing numbers, an empty quote_id", async () => {
    const before = await snapshot();
    const quote = (body: unknown) => call(srv.base, "POST", "/v1/quotes/model", { key, body });
    const cases: [string, unknown, string][] = [
      [
        "file: image",
        { items: [item(chat([{ type: "image_url", image_url: { url: "file:///etc/passwd" } }]))] },
        "/items/0/input/messages/0/content/0/image_url/url",
      ],
      [
        "http: image",
        { items: [item(chat([{ type: "image_url", image_url: "http://169.254.169.254/x.png" }]))] },
        "/items/0/input/messages/0/content/0/image_url",
      ],
      [
        "Responses input_image",
        { items: [item({ input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x/y.png" }] }] })] },
        "/items/0/input/input/0/content/0/image_url",
      ],
      ["unknown tool type", { items: [item(chat("hi"), { tools: [{ type: "no_such_tool" }] })] }, "/items/0/tools/0/type"],
      ["unknown tool in input", { items: [item(chat("hi", { tools: [{ type: "no_such_tool" }] }))] }, "/items/0/input/tools/0/type"],
      ["temperature 5", { items: [item(chat("hi", { temperature: 5 }))] }, "/items/0/input/temperature"],
      ["max_price past 2^53 micro-dollars", { items: [item(chat("hi"))], max_price: "9223372036" }, "/max_price"],
      [
        "max_price Money past 2^53",
        { items: [item(chat("hi"))], max_price: { amount: "9007199254.740992", currency: "usd" } },
        "/max_price/amount",
      ],
    ];
    for (const [label, body, path] of cases) {
      const res = await quote(body);
      expectEnvelope(res, 400, "invalid_request", label);
      expect(
        res.body.error.details.errors.map((e: { path: string }) => e.path),
        label,
      ).toContain(path);
    }
    // 1e400 is valid JSON that JSON.parse turns into Infinity (stored as null if let through).
    const overflow = await quote(
      `{"items":[{"customer_item_id":"a","model":"gpt-4o-mini","input":{"messages":[{"role":"user","content":"hi"}],"temperature":1e400}}]}`,
    );
    expectEnvelope(overflow, 400, "invalid_request", "1e400");
    expect(overflow.body.error.details.errors[0].path).toBe("/items/0/input/temperature");
    // A long mantissa overflows with a short exponent too.
    const longMantissa = await quote(
      `{"items":[{"customer_item_id":"a","model":"gpt-4o-mini","input":{"messages":[{"role":"user","content":"hi"}],"temperature":1${"0".repeat(250)}e99}}]}`,
    );
    expectEnvelope(longMantissa, 400, "invalid_request", "1 + 250 zeros e99");
    const emptyQuote = await createBatch(srv.base, key, { items: [item(chat("hi"))], quote_id: "" });
    expectEnvelope(emptyQuote, 400, "invalid_request", 'quote_id ""');
    expect(await snapshot()).toBe(before);

    // The allowed forms still work, and so does the largest max_price.
    const ok = await quote({
      max_price: "9007199254.740991",
      items: [
        item(chat([{ type: "image_url", image_url: { url: "https://img.example.com/a.png" } }]), { customer_item_id: "https" }),
        item(chat([{ type: "image_url", image_url: "data:image/png;base64,iVBORw0KGgo=" }]), { customer_item_id: "data" }),
        item(chat("hi", { temperature: 2 }), { customer_item_id: "fn", tools: [{ type: "function", function: { name: "f" } }] }),
      ],
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});

describe("NUL characters and unpaired surrogates never reach PostgreSQL", () => {
  const NUL = "a\u0000b";
  it("in any body string: 400 with the JSON pointer, nothing stored", async () => {
    const before = await snapshot();
    const items = [item(chat("hi"))];
    const bodies: [string, string, unknown, string?][] = [
      ["POST", "/v1/auth/agent-register", { agent_name: NUL }, "/agent_name"],
      ["POST", "/v1/auth/account/api-keys", { name: NUL }, "/name"],
      ["POST", "/v1/quotes/model", { items, metadata: { [NUL]: "v" } }, "/metadata/a\u0000b"],
      ["POST", "/v1/quotes/model", { items, metadata: { k: NUL } }, "/metadata/k"],
      ["POST", "/v1/quotes/model", { items, metadata: { k: "\ud800" } }, "/metadata/k"],
      ["POST", "/v1/batches", { items, metadata: { k: "x\udfffy" } }, "/metadata/k"],
      ["POST", "/v1/batches", { items, webhook: { url: `https://example.com/${NUL}`, secret: "s".repeat(10) } }, "/webhook/url"],
      ["POST", "/v1/batches", { items, quote_id: NUL }, "/quote_id"],
      ["POST", "/v1/batches", { input_file_id: NUL }, "/input_file_id"],
      ["POST", `/v1/batches/${batchId}/feedback`, { score: 1, reason: NUL }, "/reason"],
      ["PUT", "/v1/auth/account/delivery-webhook", { url: `https://example.com/${NUL}`, secret: "s".repeat(10) }, "/url"],
    ];
    for (const [method, path, body, pointer] of bodies) {
      const res = await call(srv.base, method, path, {
        key: path.includes("agent-register") ? undefined : key,
        body,
        headers: { "Idempotency-Key": idemKey("nul") },
      });
      expectEnvelope(res, 400, "invalid_request", `${path} ${JSON.stringify(body).slice(0, 60)}`);
      expect(res.body.error.details.errors[0].path).toBe(pointer);
    }
    expect(await snapshot()).toBe(before);
  });

  it("in any path id or query value: 400, not 500", async () => {
    const paths = [
      "/v1/batches/%00",
      "/v1/batches/bat_%00/results",
      "/v1/quotes/%00",
      "/v1/files/%00",
      "/v1/files/%00/content",
      "/v1/catalog/models/%00",
      "/v1/providers/%00",
      "/v1/batches?cursor=%00",
      "/v1/batches?after=%00",
      "/v1/files?cursor=%00",
      "/v1/files?after=%00",
      "/v1/billing/ledger?cursor=%00",
      "/v1/billing/ledger?after=%00",
      `/v1/batches/${batchId}/results?cursor=%00`,
      `/v1/batches/${batchId}/webhook-deliveries?cursor=%00`,
      "/v1/batches/%ED%A0%80",
    ];
    for (const p of paths) {
      const res = await call(srv.base, "GET", p, { key });
      expect(res.status, `${p}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
    }
    for (const p of ["/v1/batches/%00", "/v1/batches?cursor=%00", "/v1/billing/ledger?after=%00"]) {
      expectEnvelope(await call(srv.base, "GET", p, { key }), 400, "invalid_request", p);
    }
    for (const [method, p] of [
      ["POST", "/v1/batches/%00/cancel"],
      ["POST", "/v1/auth/account/api-keys/%00/rotate"],
      ["DELETE", "/v1/auth/account/api-keys/%00"],
      ["DELETE", "/v1/files/%00"],
    ]) {
      expectEnvelope(await call(srv.base, method!, p!, { key, body: method === "POST" ? {} : undefined }), 400, "invalid_request", p!);
    }
  });
});

describe("bodies are UTF-8 JSON, uncompressed", () => {
  it("invalid UTF-8 → 400 invalid_json (not U+FFFD); Content-Encoding or a charset other than UTF-8 → 415; uploads too", async () => {
    const before = await snapshot();
    const send = (path: string, body: Uint8Array | string, headers: Record<string, string>) =>
      fetch(`${srv.base}${path}`, { method: "POST", headers: { Authorization: `Bearer ${key}`, ...headers }, body: body as BodyInit }).then(
        async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }),
      );
    const json = { "Content-Type": "application/json" };
    const badUtf8 = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expectEnvelope(await send("/v1/auth/account/api-keys", badUtf8, json), 400, "invalid_json", "invalid UTF-8");
    expectEnvelope(
      await send("/v1/auth/account/api-keys", '{"name":"x"}', { ...json, "Content-Encoding": "gzip" }),
      415,
      "unsupported_media_type",
      "gzip",
    );
    expectEnvelope(
      await send("/v1/auth/account/api-keys", '{"name":"x"}', { "Content-Type": "application/json; charset=latin1" }),
      415,
      "unsupported_media_type",
      "latin1",
    );
    expect((await send("/v1/auth/account/api-keys", '{"name":"utf"}', { "Content-Type": "application/json; charset=UTF-8" })).status).toBe(
      201,
    );
    const line = `${JSON.stringify(item(chat("hi")))}\n`;
    expectEnvelope(
      await send("/v1/batches/input-manifests", line, { "Content-Type": "application/x-ndjson", "Content-Encoding": "br" }),
      415,
      "unsupported_media_type",
      "upload br",
    );
    expectEnvelope(
      await send("/v1/batches/input-manifests", line, { "Content-Type": "application/x-ndjson; charset=utf-16" }),
      415,
      "unsupported_media_type",
      "upload utf-16",
    );
    const counts = (await snapshot()).split(",");
    expect(counts[1]).toBe(String(Number(before.split(",")[1]) + 1)); // only the valid key was made
  });
});

describe("requests Node's HTTP parser refuses", () => {
  const raw = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const u = new URL(srv.base);
      const socket = net.connect(Number(u.port), u.hostname, () => socket.end(text));
      let out = "";
      socket.setEncoding("latin1");
      socket.on("data", (c: string) => (out += c));
      socket.on("end", () => resolve(out));
      socket.on("error", reject);
    });

  it("a header value with a bare CR, LF-in-value, NUL or control character is answered in the envelope with a request id", async () => {
    for (const bad of ["a\rb", "a\u0000b", "a\u0001b"]) {
      const answer = await raw(`GET /v1/catalog/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Custom: ${bad}\r\n\r\n`);
      const [head, body] = answer.split("\r\n\r\n");
      expect(head, JSON.stringify(bad)).toMatch(/^HTTP\/1\.1 400 /);
      const id = /\r\nX-Request-Id: (\S+)/i.exec(head!)?.[1];
      expect(id).toMatch(/^req_/);
      expect(JSON.parse(body!)).toEqual({
        error: { code: "invalid_request", message: expect.any(String), details: expect.any(Object), request_id: id },
      });
    }
  });
});
