import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadManifest } from "../server/files/upload.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";
import { countStoredItems, storedItems } from "./helpers/file-items.js";

// Malformed manifests (400 with line numbers and nothing stored), the limits, and manifests used by
// quotes and batches.

let srv: TestServer;
beforeAll(async () => {
  // Every case signs up its own org, so it can assert that nothing at all was stored for it.
  srv = await startTestServer({ AGENT_REGISTER_PER_IP_PER_HOUR: "1000" }, { worker: true });
});
afterAll(async () => srv?.close());

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
const native = (id: string, text = `Summarise ticket ${id}.`) =>
  JSON.stringify({
    customer_item_id: id,
    model: "gpt-4o-mini",
    input: { messages: [{ role: "user", content: text }] },
    max_output_tokens: 40,
  });
const openai = (id: string) =>
  JSON.stringify({
    custom_id: id,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Classify ${id}` }], max_tokens: 40 },
  });
const lines = (...l: string[]) => `${l.join("\n")}\n`;

async function raw(key: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.base}/v1/batches/input-manifests`, {
    method: "POST",
    body: typeof body === "string" ? body : new Uint8Array(body),
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson", ...headers },
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function multipart(key: string, body: string | Buffer, pathname = "/v1/batches/input-manifests", after: [string, string][] = []) {
  const form = new FormData();
  form.append("file", new Blob([typeof body === "string" ? body : new Uint8Array(body)]), "m.jsonl");
  for (const [k, v] of after) form.append(k, v);
  const res = await fetch(`${srv.base}${pathname}`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: form });
  return { status: res.status, body: (await res.json()) as any };
}

const countItems = () => countStoredItems(srv.database.db);

/** No files row, no stored items, no object (nor a temp file) in the artifact store. */
async function expectNothingStored(orgId: string, itemsBefore: number) {
  expect(await srv.database.db("files").where({ org_id: orgId }).count("* as n")).toEqual([{ n: 0 }]);
  expect(await countItems()).toBe(itemsBefore);
  const root = path.join(srv.dataDir, "artifacts");
  expect(await fs.readdir(path.join(root, "uploads", orgId)).catch(() => [])).toEqual([]);
  expect(await fs.readdir(path.join(root, ".tmp"))).toEqual([]);
}

/** Uploads `body` as a fresh org, expects 400 preflight_failed, nothing stored; returns the error. */
async function rejected(body: string | Buffer, via: "raw" | "multipart" = "raw") {
  const agent = await registerAgent(srv.base);
  const before = await countItems();
  const res = via === "raw" ? await raw(agent.test_api_key, body) : await multipart(agent.test_api_key, body);
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe("preflight_failed");
  await expectNothingStored(agent.org_id, before);
  return res.body.error;
}

const only = (e: any) => e.details.preflight.map((p: any) => ({ line: p.line, code: p.code, ...(p.item ? { item: p.item } : {}) }));

describe("a malformed manifest is refused with its line numbers, and nothing is stored", () => {
  it("bad JSON, a non-object line", async () => {
    const e = await rejected(lines(native("a"), '{"customer_item_id":"b",', "[1,2]", "null", native("c")));
    expect(only(e)).toEqual([
      { line: 2, code: "invalid_json" },
      { line: 3, code: "invalid_json" },
      { line: 4, code: "invalid_json" },
    ]);
    expect(e.message).toContain("line 2");
  });

  it("wrong types and unknown fields", async () => {
    const wrongId = JSON.stringify({ customer_item_id: 7, model: "gpt-4o-mini", input: { messages: [{ role: "user", content: "x" }] } });
    const inputString = JSON.stringify({ customer_item_id: "s", input: "hello" });
    const badRole = JSON.stringify({ customer_item_id: "r", input: { messages: [{ role: "robot", content: "x" }] } });
    const unknown = JSON.stringify({ customer_item_id: "u", colour: "red", input: { messages: [{ role: "user", content: "x" }] } });
    const noTokens = JSON.stringify({
      customer_item_id: "n",
      input: { messages: [{ role: "user", content: "x" }] },
      max_output_tokens: -1,
    });
    const e = await rejected(lines(wrongId, inputString, badRole, unknown, noTokens));
    expect(only(e)).toEqual([
      { line: 1, code: "invalid_item" },
      { line: 2, code: "invalid_item", item: "s" },
      { line: 3, code: "invalid_item", item: "r" },
      { line: 4, code: "invalid_item", item: "u" },
      { line: 5, code: "invalid_item", item: "n" },
    ]);
    expect(e.details.preflight[3].message).toMatch(/colour/);
  });

  it("duplicate ids, in either format", async () => {
    expect(only(await rejected(lines(native("a"), native("b"), native("a"))))).toEqual([
      { line: 3, code: "duplicate_customer_item_id", item: "a" },
    ]);
    const e = await rejected(lines(openai("q"), openai("q")), "multipart");
    expect(only(e)).toEqual([{ line: 2, code: "duplicate_customer_item_id", item: "q" }]);
    expect(e.details.preflight[0].message).toContain("custom_id");
  });

  it("OpenAI lines with a wrong method or endpoint, and mixed formats", async () => {
    const get = JSON.stringify({
      custom_id: "g",
      method: "GET",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [] },
    });
    const images = JSON.stringify({
      custom_id: "i",
      method: "POST",
      url: "/v1/images/generations",
      body: { model: "dall-e-3", prompt: "x" },
    });
    expect(only(await rejected(lines(openai("ok"), get, images)))).toEqual([
      { line: 2, code: "invalid_item", item: "g" },
      { line: 3, code: "invalid_item", item: "i" },
    ]);
    expect(only(await rejected(lines(native("a"), openai("b"))))).toEqual([{ line: 2, code: "mixed_formats", item: "b" }]);
  });

  it("invalid UTF-8, NUL characters and unpaired surrogates (which PostgreSQL can't store)", async () => {
    const badUtf8 = Buffer.concat([
      Buffer.from(lines(native("a"))),
      Buffer.from('{"customer_item_id":"b","input":{"messages":[{"role":"user","content":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}}\n'),
    ]);
    expect(only(await rejected(badUtf8))).toEqual([{ line: 2, code: "invalid_utf8" }]);
    const nul = native("n", "before\u0000after");
    expect(nul).toContain("\\u0000");
    const lone = native("s", "half \ud83d of an emoji");
    expect(lone).toContain("\\ud83d");
    // Escapes as a person or another serialiser may write them: upper-case hex, a valid pair is fine.
    const upper = '{"customer_item_id":"u","input":{"messages":[{"role":"user","content":"half \\uD83D up"}]}}';
    const pair = '{"customer_item_id":"p","input":{"messages":[{"role":"user","content":"whole \\uD83D\\uDE00"}]}}';
    const e = await rejected(lines(native("a"), nul, native("b", "a literal \\u0000 is fine"), lone, upper, pair));
    expect(only(e)).toEqual([
      { line: 2, code: "invalid_item", item: "n" },
      { line: 4, code: "invalid_item", item: "s" },
      { line: 5, code: "invalid_item", item: "u" },
    ]);
  });

  it("an empty file, and one of blank lines only", async () => {
    expect(only(await rejected(""))).toEqual([{ line: 0, code: "empty_manifest" }]);
    expect(only(await rejected("\n  \r\n\t\n", "multipart"))).toEqual([{ line: 0, code: "empty_manifest" }]);
  });

  it("a line over 10 MB, between good lines", async () => {
    const huge = native("big", "x".repeat(10 * 1024 * 1024 + 100));
    const e = await rejected(lines(native("a"), huge, native("c")));
    expect(only(e)).toEqual([{ line: 2, code: "line_too_large" }]);
  });

  it("a bad line after thousands of good ones rolls back the items already copied", async () => {
    const good = Array.from({ length: 5000 }, (_, i) => native(`g${i}`));
    const e = await rejected(lines(...good, '{"customer_item_id":"bad"}', native("tail")));
    expect(only(e)).toEqual([{ line: 5001, code: "invalid_item", item: "bad" }]);
    expect(e.details.item_count).toBe(5002);
  });

  it("lists the first 100 bad lines and counts the rest", async () => {
    const e = await rejected(lines(...Array.from({ length: 150 }, () => "{oops")));
    expect(e.details.preflight).toHaveLength(100);
    expect(e.details.preflight[99].line).toBe(100);
    expect(e.details.unchecked_lines).toBe(50);
    expect(e.details.item_count).toBe(150);
  });

  it("a multipart body cut off after the file, or a wrong purpose after it, stores nothing", async () => {
    const agent = await registerAgent(srv.base);
    const before = await countItems();
    const cut = `--XyZ\r\nContent-Disposition: form-data; name="file"; filename="m.jsonl"\r\nContent-Type: application/x-ndjson\r\n\r\n${lines(native("a"))}`;
    const res = await call(srv.base, "POST", "/v1/batches/input-manifests", {
      key: agent.test_api_key,
      body: cut,
      headers: { "Content-Type": "multipart/form-data; boundary=XyZ" },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    const wrong = await multipart(agent.test_api_key, lines(native("a")), "/v1/files", [["purpose", "assistants"]]);
    expect(wrong.status).toBe(400);
    await expectNothingStored(agent.org_id, before);
  });
});

/** A request on a keep-alive socket that is reused for the next one: the proof that the body was drained. */
function send(agent: http.Agent, key: string, body: Buffer | null, headers: Record<string, string | number> = {}) {
  return new Promise<{ status: number; body: any; port: number }>((resolve, reject) => {
    const req = http.request(
      `${srv.base}/v1/batches/input-manifests`,
      { method: "POST", agent, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        const port = res.socket.localPort!;
        res
          .on("data", (c: Buffer) => chunks.push(c))
          .on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || "null"), port }));
      },
    );
    req.on("error", reject);
    if (body) req.end(body);
    else req.flushHeaders(); // headers only: the answer must come before any body
  });
}

describe("a client that disconnects mid-upload", () => {
  for (const via of ["raw", "multipart"] as const) {
    it(`leaves nothing behind and no transaction open (${via})`, async () => {
      const agent = await registerAgent(srv.base);
      const before = await countItems();
      const boundary = "----cut";
      const head = via === "multipart" ? `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.jsonl"\r\n\r\n` : "";
      const type = via === "multipart" ? `multipart/form-data; boundary=${boundary}` : "application/x-ndjson";
      const req = http.request(`${srv.base}/v1/batches/input-manifests`, {
        method: "POST",
        headers: { Authorization: `Bearer ${agent.test_api_key}`, "Content-Type": type, "Content-Length": 50_000_000 },
      });
      req.on("error", () => undefined);
      // Enough good lines for the COPY to have started before the connection drops.
      req.write(head + Array.from({ length: 5000 }, (_, i) => `${native(`c${i}`)}\n`).join(""));
      await waitFor(async () => ((await openUploadTransactions()) > 0 ? true : undefined), 10_000, "the upload's transaction to open");
      req.destroy();
      await waitFor(async () => ((await openUploadTransactions()) === 0 ? true : undefined), 10_000, "the upload's transaction to end");
      await waitFor(
        async () => ((await fs.readdir(path.join(srv.dataDir, "artifacts", ".tmp"))).length === 0 ? true : undefined),
        10_000,
        "the upload's temp file to be removed",
      );
      await expectNothingStored(agent.org_id, before);
    });
  }
});

/** Sessions of this test database inside an upload's transaction (its COPY has written rows). */
async function openUploadTransactions(): Promise<number> {
  const sql =
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and backend_xid is not null and query like 'COPY file_item_chunks%'";
  const rows = await srv.database.db.raw(sql);
  return rows.rows[0].n;
}

describe("limits", () => {
  it("over 1,000,000 lines → 413, and the rest of the body is drained so the connection still serves", async () => {
    const agent = await registerAgent(srv.base);
    const before = await countItems();
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // 40 MB after the limit: more than socket buffers hold, so only a drain lets the client finish.
      const body = Buffer.concat([Buffer.from("{}\n".repeat(1_000_001)), Buffer.alloc(40 * 1024 * 1024, "{}\n")]);
      const res = await send(keepAlive, agent.test_api_key, body);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe("payload_too_large");
      expect(res.body.error.details.preflight[0]).toMatchObject({ line: 1_000_001, code: "too_many_lines" });
      await expectNothingStored(agent.org_id, before);
      const next = await send(keepAlive, agent.test_api_key, Buffer.from(lines(native("next"))));
      expect(next.status).toBe(201);
      expect(next.port).toBe(res.port); // the same connection
    } finally {
      keepAlive.destroy();
    }
  });

  it("a declared length over 2 GB is refused before any byte of the body is read", async () => {
    const agent = await registerAgent(srv.base);
    const keepAlive = new http.Agent({ keepAlive: false });
    try {
      const res = await send(keepAlive, agent.test_api_key, null, { "Content-Length": 3 * 1024 ** 3 });
      expect(res.status).toBe(413);
      expect(res.body.error.details.limit).toEqual({ bytes: 2 * 1024 ** 3 });
    } finally {
      keepAlive.destroy();
    }
  });

  it("more bytes than the limit while streaming → 413 (a lowered limit: 2 GB is too slow for a test)", async () => {
    const agent = await registerAgent(srv.base);
    const actor = { org_id: agent.org_id, environment: "test" as const, key_id: "k", scopes: [] };
    const before = await countItems();
    const body = lines(...Array.from({ length: 100 }, (_, i) => native(`l${i}`)));
    const source = (async function* () {
      for (let i = 0; i < body.length; i += 1000) yield Buffer.from(body.slice(i, i + 1000));
    })();
    const err = await uploadManifest(srv.platform.appDeps, actor, {
      source,
      filename: "x.jsonl",
      headers: {},
      limits: { maxBytes: 5000 },
    }).catch((e) => e);
    expect(err).toMatchObject({ code: "payload_too_large", details: { limit: { bytes: 5000 } } });
    await expectNothingStored(agent.org_id, before);
  });

  it("an unauthenticated upload is answered at once", async () => {
    const res = await raw("br_test_nope", Buffer.alloc(8 * 1024 * 1024, "{}\n"));
    expect(res.status).toBe(401);
  });

  it("stores a 200,000-line manifest", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${native(`t${i}`)}\n`).join(""));
    const res = await raw(key, body, { "x-batchrouter-item-count": "200000", "x-content-sha256": sha256(body) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ item_count: 200_000, bytes: body.length, sha256: sha256(body) });
    const items = await storedItems(srv.database.db, res.body.id);
    expect(items).toHaveLength(200_000);
    expect(items.every((s, i) => s.idx === i && s.line === i + 1 && s.item.customer_item_id === `t${i}`)).toBe(true);
  });
});

describe("quotes and batches from an uploaded manifest", () => {
  for (const format of ["native", "openai"] as const) {
    it(`quotes and runs a ${format} manifest by input_file_id`, async () => {
      const { test_api_key: key } = await registerAgent(srv.base);
      const ids = ["m1", "m2", "m3"];
      const upload = await multipart(key, lines(...ids.map(format === "native" ? (id) => native(id) : openai)));
      expect(upload.status).toBe(201);
      expect(upload.body.format).toBe(format);
      const fileId = upload.body.input_file_id;

      const quote = await call(srv.base, "POST", "/v1/quotes/model", { key, body: { input_file_id: fileId, routing_mode: "cheapest" } });
      expect(quote.status, JSON.stringify(quote.body)).toBe(200);
      expect(quote.body).toMatchObject({ object: "quote", item_count: 3 });

      const created = await call(srv.base, "POST", "/v1/batches", {
        key,
        body: { input_file_id: fileId, quote_id: quote.body.quote_id },
        headers: { "Idempotency-Key": `from-file-${format}` },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(202);
      expect(created.body.batch).toMatchObject({ item_count: 3, input_file_id: fileId, quote_id: quote.body.quote_id });
      const id = created.body.batch.id;
      await waitFor(
        async () => {
          const b = await call(srv.base, "GET", `/v1/batches/${id}`, { key });
          return b.body.status === "completed" ? b.body : undefined;
        },
        30_000,
        `batch ${id} from the ${format} manifest to complete`,
      );
      const results = await call(srv.base, "GET", `/v1/batches/${id}/results`, { key });
      expect(results.body.results.map((r: any) => r.customer_item_id).sort()).toEqual(ids);
    });
  }
});
