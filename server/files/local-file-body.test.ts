import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough, pipeline } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalFileBody } from "./local-file-body.js";

let dir: string;
let file: string;
let content: Buffer;
const handles: fs.FileHandle[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "file-body-"));
  file = path.join(dir, "out.jsonl");
  // Not a multiple of the 1 MB chunk, so the last write is a partial buffer.
  content = randomBytes(9 * 1024 * 1024 + 12_345);
  await fs.writeFile(file, content);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function open(p = file) {
  const handle = await fs.open(p, "r");
  const { size } = await handle.stat();
  return { handle, body: new LocalFileBody(handle, size), size };
}

/**
 * An HTTP server that sends a fresh body into each response: through stream.pipeline, as Koa 3
 * does with a stream body (it ends the response on the body's 'end'), or a plain `pipe`.
 */
async function serving(bodies: LocalFileBody[], how: "pipeline" | "pipe" = "pipeline") {
  const server = http.createServer(async (_req, res) => {
    const { body, size, handle } = await open();
    bodies.push(body);
    handles.push(handle);
    res.setHeader("Content-Length", size);
    if (how === "pipe") body.pipe(res);
    else pipeline(body, res, () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function closed(body: LocalFileBody) {
  return body.closed ? Promise.resolve() : new Promise<void>((r) => body.once("close", () => r()));
}

describe("LocalFileBody", () => {
  it.each(["pipeline", "pipe"] as const)(
    "serves the file byte for byte to a client that reads slowly (%s), then closes it",
    async (how) => {
      const bodies: LocalFileBody[] = [];
      const s = await serving(bodies, how);
      try {
        const res = await fetch(s.url);
        const parts: Buffer[] = [];
        let n = 0;
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          parts.push(Buffer.from(chunk));
          // Pauses now and then, so the server's writes back up and its buffers wait for them.
          if (++n % 20 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        const got = Buffer.concat(parts);
        expect(got.length).toBe(content.length);
        expect(sha(got)).toBe(sha(content));
        await closed(bodies[0]!);
        expect(bodies[0]!.errored).toBeNull();
      } finally {
        await s.close();
      }
    },
  );

  it("a client that goes away mid-download gets the file closed (no handle left open)", async () => {
    const bodies: LocalFileBody[] = [];
    handles.length = 0;
    const s = await serving(bodies);
    try {
      const ac = new AbortController();
      const res = await fetch(s.url, { signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await reader.read().catch(() => undefined);
      await closed(bodies[0]!);
      // The handle is closed once the close event is out (a closed FileHandle's fd is -1).
      await new Promise((r) => setImmediate(r));
      expect(handles[0]!.fd).toBe(-1);
    } finally {
      await s.close();
    }
  });

  it("read as an ordinary stream (async iteration) it yields the same bytes and closes the file", async () => {
    const { body } = await open();
    const parts: Buffer[] = [];
    for await (const chunk of body) parts.push(chunk as Buffer);
    expect(sha(Buffer.concat(parts))).toBe(sha(content));
    await closed(body);
  });

  it("an empty file is an empty response", async () => {
    const empty = path.join(dir, "empty.jsonl");
    await fs.writeFile(empty, "");
    const { body } = await open(empty);
    const server = http.createServer((_req, res) => {
      res.setHeader("Content-Length", 0);
      body.pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await res.text()).toBe("");
      await closed(body);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("a second reader while it is being sent fails the body rather than split the file between them", async () => {
    const { body } = await open();
    const first = new PassThrough();
    first.resume();
    const failed = new Promise<Error>((r) => body.once("error", r));
    body.pipe(first);
    body.pipe(new PassThrough());
    expect((await failed).message).toMatch(/piped twice/);
    await closed(body);
  });

  it("a file cut shorter than its recorded size fails the body rather than hang", async () => {
    const short = path.join(dir, "short.jsonl");
    await fs.writeFile(short, "abc");
    const handle = await fs.open(short, "r");
    const body = new LocalFileBody(handle, 10);
    const sink = new PassThrough();
    sink.resume();
    const failed = new Promise<Error>((r) => body.once("error", r));
    body.pipe(sink);
    expect((await failed).message).toMatch(/ended before its recorded size/);
    await closed(body);
  });
});
