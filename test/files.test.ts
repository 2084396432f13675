import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";
import { storedItems } from "./helpers/file-items.js";

// Uploads and the files API through the real HTTP stack (the malformed-manifest cases live in
// manifest-upload.test.ts).

let srv: TestServer;
beforeAll(async () => {
  // Every case signs up its own org, so it can assert that nothing at all was stored for it.
  srv = await startTestServer({ AGENT_REGISTER_PER_IP_PER_HOUR: "1000" }, { worker: true });
});
afterAll(async () => srv?.close());

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
const chat = (text: string) => ({ messages: [{ role: "user", content: text }] });
const native = (id: string, text = `Summarise ticket ${id}.`) =>
  JSON.stringify({ customer_item_id: id, model: "gpt-4o-mini", input: chat(text), max_output_tokens: 50 });
const openai = (id: string) =>
  JSON.stringify({
    custom_id: id,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Classify ${id}` }], max_tokens: 40 },
  });

async function raw(key: string, body: string, headers: Record<string, string> = {}, path = "/v1/batches/input-manifests") {
  return call(srv.base, "POST", path, { key, body, headers: { "Content-Type": "application/x-ndjson", ...headers } });
}

async function multipart(
  key: string,
  content: string | Buffer,
  opts: { path?: string; fields?: [string, string][]; filename?: string; headers?: Record<string, string> } = {},
) {
  const form = new FormData();
  for (const [k, v] of opts.fields ?? []) if (k !== "__file_after") form.append(k, v);
  form.append("file", new Blob([typeof content === "string" ? content : new Uint8Array(content)]), opts.filename ?? "manifest.jsonl");
  const res = await fetch(`${srv.base}${opts.path ?? "/v1/batches/input-manifests"}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, ...opts.headers },
    body: form,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function content(key: string, id: string) {
  const res = await fetch(`${srv.base}/v1/files/${id}/content`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const itemsOf = async (fileId: string) => (await storedItems(srv.database.db, fileId)).map(({ idx, line, item }) => ({ idx, line, item }));

describe("POST /v1/batches/input-manifests", () => {
  it("stores a raw native manifest: 201 with the id under three names, items in order, bytes exact", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const body = `${[native("a"), "", native("b", 'tab\there "quoted" back\\slash \u00e9 \u{1f600}'), native("c")].join("\n")}\n`;
    const res = await raw(key, body, {}, "/v1/batches/input-manifests?filename=tickets.jsonl");
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      object: "file",
      purpose: "batch",
      item_count: 3,
      bytes: Buffer.byteLength(body),
      sha256: sha256(body),
      format: "native",
      filename: "tickets.jsonl",
    });
    expect(res.body.id).toMatch(/^file_/);
    expect(res.body.file_id).toBe(res.body.id);
    expect(res.body.input_file_id).toBe(res.body.id);
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);

    const rows = await itemsOf(res.body.id);
    expect(rows.map((r) => [r.idx, r.line, r.item.customer_item_id])).toEqual([
      [0, 1, "a"],
      [1, 3, "b"],
      [2, 4, "c"],
    ]);
    // COPY's escaping kept the backslash, tab and non-ASCII text intact.
    expect(rows[1]!.item.input.messages[0].content).toBe('tab\there "quoted" back\\slash \u00e9 \u{1f600}');

    const got = await content(key, res.body.id);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(Buffer.from(body))).toBe(true);
    expect(got.headers.get("content-type")).toContain("application/x-ndjson");
    expect(got.headers.get("content-disposition")).toContain('filename="tickets.jsonl"');
  });

  it("accepts an OpenAI batch file with CRLF line ends and a BOM, as multipart, and normalises the items", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const body = `\ufeff${[openai("r1"), openai("r2")].join("\r\n")}\r\n`;
    const res = await multipart(key, body, { filename: "batch_input.jsonl", fields: [["note", "ignored"]] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      item_count: 2,
      format: "openai",
      filename: "batch_input.jsonl",
      bytes: Buffer.byteLength(body),
      sha256: sha256(body),
    });
    const rows = await itemsOf(res.body.id);
    expect(rows[0]!.item).toMatchObject({
      customer_item_id: "r1",
      model: "gpt-4o-mini",
      input: { messages: [{ role: "user", content: "Classify r1" }] },
    });
    expect((await content(key, res.body.id)).bytes.equals(Buffer.from(body))).toBe(true);
  });

  it("takes only the first `file` part of a multipart body", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const form = new FormData();
    form.append("other", new Blob(["not a manifest"]), "x.txt");
    form.append("file", new Blob([`${native("one")}\n`]), "first.jsonl");
    form.append("file", new Blob(["{broken"]), "second.jsonl");
    const res = await fetch(`${srv.base}/v1/batches/input-manifests`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
      body: form,
    });
    const json = (await res.json()) as any;
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ item_count: 1, filename: "first.jsonl" });
  });

  it("accepts the other JSON-lines content types and refuses anything else with 415", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    for (const type of ["application/jsonl", "application/json-lines", "text/plain; charset=utf-8"]) {
      expect((await raw(key, `${native("x")}\n`, { "Content-Type": type })).status).toBe(201);
    }
    for (const type of ["application/json", "application/octet-stream"]) {
      const res = await raw(key, `${native("x")}\n`, { "Content-Type": type });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe("unsupported_media_type");
    }
  });

  it("checks x-batchrouter-item-count and x-content-sha256: a match stores, a mismatch is preflight_failed", async () => {
    const { test_api_key: key, org_id } = await registerAgent(srv.base);
    const body = `${native("a")}\n${native("b")}\n`;
    const ok = await raw(key, body, { "x-batchrouter-item-count": "2", "x-content-sha256": sha256(body).toUpperCase() });
    expect(ok.status).toBe(201);
    const okMultipart = await multipart(key, body, { headers: { "x-batchrouter-item-count": "2", "x-content-sha256": sha256(body) } });
    expect(okMultipart.status).toBe(201);

    const count = await raw(key, body, { "x-batchrouter-item-count": "3" });
    expect(count.status).toBe(400);
    expect(count.body.error.code).toBe("preflight_failed");
    expect(count.body.error.details.preflight).toEqual([expect.objectContaining({ line: 0, code: "item_count_mismatch" })]);
    const sha = await multipart(key, body, { headers: { "x-content-sha256": sha256("something else") } });
    expect(sha.status).toBe(400);
    expect(sha.body.error.details.preflight).toEqual([expect.objectContaining({ line: 0, code: "sha256_mismatch" })]);
    const garbled = await raw(key, body, { "x-batchrouter-item-count": "two" });
    expect(garbled.body.error.details.preflight).toEqual([expect.objectContaining({ code: "invalid_header" })]);
    expect(await srv.database.db("files").where({ org_id }).count("* as n")).toEqual([{ n: 2 }]);
  });

  it("honours an Idempotency-Key when the body's hash is declared", async () => {
    const { test_api_key: key, org_id } = await registerAgent(srv.base);
    const body = `${native("a")}\n`;
    const headers = { "Idempotency-Key": "upload-key-0001", "x-content-sha256": sha256(body) };
    const first = await raw(key, body, headers);
    const again = await raw(key, body, headers);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const other = `${native("b")}\n`;
    const conflict = await raw(key, other, { "Idempotency-Key": "upload-key-0001", "x-content-sha256": sha256(other) });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe("idempotency_conflict");
    // Without a declared hash the key can't be checked against the body, so it is not used.
    const undeclared = await raw(key, body, { "Idempotency-Key": "upload-key-0002" });
    const undeclared2 = await raw(key, body, { "Idempotency-Key": "upload-key-0002" });
    expect(undeclared2.body.id).not.toBe(undeclared.body.id);
    expect(await srv.database.db("files").where({ org_id }).count("* as n")).toEqual([{ n: 3 }]);
  });

  it("needs the submit scope", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const created = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key, body: { name: "reader", scopes: ["read"] } });
    expect(created.status).toBe(201);
    const res = await raw(created.body.api_key, `${native("a")}\n`);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("insufficient_scope");
  });
});

describe("the files API", () => {
  it("POST /v1/files takes purpose=batch before or after the file, and refuses other purposes", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const body = `${openai("q1")}\n`;
    const before = await multipart(key, body, { path: "/v1/files", fields: [["purpose", "batch"]] });
    expect(before.status).toBe(201);
    expect(before.body).toMatchObject({ object: "file", purpose: "batch", item_count: 1, format: "openai" });
    // The OpenAI SDK sends `file` first, then `purpose`.
    const form = new FormData();
    form.append("file", new Blob([body]), "sdk.jsonl");
    form.append("purpose", "batch");
    const after = await fetch(`${srv.base}/v1/files`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: form });
    expect(after.status).toBe(201);

    const wrong = await multipart(key, body, { path: "/v1/files", fields: [["purpose", "fine-tune"]] });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details.errors).toEqual([{ path: "/purpose", message: expect.stringContaining("batch") }]);
    const missing = await multipart(key, body, { path: "/v1/files" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.errors).toEqual([{ path: "/purpose", message: "required" }]);
    const notMultipart = await raw(key, body, {}, "/v1/files");
    expect(notMultipart.status).toBe(415);
  });

  it("lists newest first with cursor pagination and a purpose filter, reads one, and deletes", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await raw(key, `${native(`i${i}`)}\n`)).body.id);
    const page1 = await call(srv.base, "GET", "/v1/files?limit=2", { key });
    expect(page1.status).toBe(200);
    expect(page1.body).toMatchObject({ object: "list", has_more: true });
    expect(page1.body.data.map((f: any) => f.id)).toEqual([ids[2], ids[1]]);
    const page2 = await call(srv.base, "GET", `/v1/files?limit=2&cursor=${page1.body.next_cursor}`, { key });
    expect(page2.body).toMatchObject({ has_more: false, next_cursor: null });
    expect(page2.body.data.map((f: any) => f.id)).toEqual([ids[0]]);
    expect((await call(srv.base, "GET", "/v1/files?purpose=batch_output", { key })).body.data).toEqual([]);

    const one = await call(srv.base, "GET", `/v1/files/${ids[0]}`, { key });
    expect(one.body).toMatchObject({ id: ids[0], object: "file", purpose: "batch", item_count: 1, input_file_id: ids[0] });

    const del = await call(srv.base, "DELETE", `/v1/files/${ids[0]}`, { key });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ id: ids[0], object: "file", deleted: true });
    expect(await itemsOf(ids[0]!)).toEqual([]);
    for (const path of [`/v1/files/${ids[0]}`, `/v1/files/${ids[0]}/content`])
      expect((await call(srv.base, "GET", path, { key })).status).toBe(404);
    expect((await call(srv.base, "DELETE", `/v1/files/${ids[0]}`, { key })).status).toBe(404);
    expect((await call(srv.base, "GET", "/v1/files", { key })).body.data.map((f: any) => f.id)).toEqual([ids[2], ids[1]]);
    // A deleted manifest can no longer feed a batch.
    const create = await call(srv.base, "POST", "/v1/batches", {
      key,
      body: { input_file_id: ids[0] },
      headers: { "Idempotency-Key": "deleted-file-01" },
    });
    expect(create.status).toBe(404);
  });

  it("hides files of other orgs and of the other environment (404, never 403)", async () => {
    const owner = await registerAgent(srv.base);
    const other = await registerAgent(srv.base);
    const id = (await raw(owner.test_api_key, `${native("x")}\n`)).body.id;
    for (const key of [other.test_api_key, owner.api_key]) {
      for (const [method, path] of [
        ["GET", `/v1/files/${id}`],
        ["GET", `/v1/files/${id}/content`],
        ["DELETE", `/v1/files/${id}`],
      ] as const) {
        const res = await call(srv.base, method, path, { key });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.code).toBe("not_found");
      }
      expect((await call(srv.base, "GET", "/v1/files", { key })).body.data).toEqual([]);
      const quote = await call(srv.base, "POST", "/v1/batches", {
        key,
        body: { input_file_id: id },
        headers: { "Idempotency-Key": `cross-${key.slice(-12)}` },
      });
      expect(quote.status).toBe(404);
    }
    expect((await call(srv.base, "GET", `/v1/files/${id}`, { key: owner.test_api_key })).status).toBe(200);
  });

  it("serves a finished batch's output file through /v1/files/{id}/content", async () => {
    const { test_api_key: key } = await registerAgent(srv.base);
    const upload = await raw(key, `${native("out-1")}\n`);
    const created = await call(srv.base, "POST", "/v1/batches", {
      key,
      body: { input_file_id: upload.body.id },
      headers: { "Idempotency-Key": "output-file-01" },
    });
    expect(created.status).toBe(202);
    const outputs = await waitFor(
      async () => {
        const list = await call(srv.base, "GET", "/v1/files?purpose=batch_output", { key });
        return list.body.data.length > 0 ? list.body.data : undefined;
      },
      30_000,
      "the batch output file",
    );
    expect(outputs[0]).toMatchObject({ object: "file", purpose: "batch_output", batch_id: created.body.batch.id, format: "jsonl" });
    expect(outputs[0].input_file_id).toBeUndefined();
    const got = await content(key, outputs[0].id);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(outputs[0].sha256);
    expect(JSON.parse(got.bytes.toString().trim().split("\n")[0]!)).toMatchObject({ customer_item_id: "out-1", status: "completed" });
  });
});
