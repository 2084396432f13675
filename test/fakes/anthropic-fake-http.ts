// HTTP plumbing for test/fakes/anthropic-fake.ts: body reading, routing, and the JSONL results stream.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { BatchRecord, FakeOp } from "./anthropic-fake-batches.js";

/** The whole body is always drained (so the client sees the answer, not a reset); past `max` it is dropped. */
export function readBody(req: IncomingMessage, max: number): Promise<{ text: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers["content-length"] ?? 0) > max;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) tooLarge = true;
      if (!tooLarge) chunks.push(c);
    });
    req.on("end", () => resolve({ text: tooLarge ? "" : Buffer.concat(chunks).toString("utf8"), tooLarge }));
    req.on("error", reject);
  });
}

const BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;

export function matchRoute(method: string, path: string): { op: FakeOp; id?: string } | null {
  if (path === "/v1/messages") return method === "POST" ? { op: "messages" } : null;
  if (path === "/v1/messages/count_tokens") return method === "POST" ? { op: "count_tokens" } : null;
  if (path === "/v1/messages/batches") return method === "POST" ? { op: "create" } : method === "GET" ? { op: "list" } : null;
  const m = BATCH_PATH.exec(path);
  if (!m) return null;
  const id = decodeURIComponent(m[1]);
  if (m[2] === "/cancel") return method === "POST" ? { op: "cancel", id } : null;
  if (m[2] === "/results") return method === "GET" ? { op: "results", id } : null;
  return method === "GET" ? { op: "retrieve", id } : method === "DELETE" ? { op: "delete", id } : null;
}

/**
 * JSONL as the real endpoint sends it (content-type application/x-jsonl, an attachment name), written in
 * fixed-size slices that cut through lines so a client's line splitter is exercised. With
 * `malformed`, the middle line is replaced by its own first half: that request's result is unreadable.
 */
export async function streamResults(
  res: ServerResponse,
  b: BatchRecord,
  requestId: string,
  malformed: boolean,
  chunk: number,
): Promise<void> {
  const lines = (b.results ?? []).map((l) => JSON.stringify(l));
  if (malformed && lines.length > 0) {
    const i = Math.floor(lines.length / 2);
    lines[i] = lines[i].slice(0, Math.max(1, Math.floor(lines[i].length / 2)));
  }
  const payload = Buffer.from(lines.length ? `${lines.join("\n")}\n` : "", "utf8");
  res.writeHead(200, {
    "content-type": "application/x-jsonl",
    "content-disposition": `attachment; filename*=utf-8''${b.id}_results.jsonl`,
    "request-id": requestId,
    "content-length": payload.length,
  });
  for (let off = 0; off < payload.length; off += chunk) {
    if (res.destroyed) return;
    if (!res.write(payload.subarray(off, off + chunk))) {
      await new Promise<void>((r) => {
        res.once("drain", r);
        res.once("close", r);
      });
    }
  }
  res.end();
}
