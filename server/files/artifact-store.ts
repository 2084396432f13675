import { createHash } from "node:crypto";
import { Readable, Transform } from "node:stream";
import { deriveKey, hmacHex, safeEqual } from "../crypto.js";
import { fail } from "../errors.js";

/** What a finished write produced: the size and the SHA-256 (hex) of exactly the bytes stored. */
export interface StoredObject {
  bytes: number;
  sha256: string;
}

/**
 * A body whose chunks are lent: each is valid only until the next is asked for, when its buffer is
 * filled again (a result file streamed out of PostgreSQL: copyOutValues' `lend`). A store done with
 * each chunk before it asks for the next may write them as they come; any other use copies them.
 */
export class LentChunks {
  constructor(readonly source: AsyncIterable<Buffer>) {}
}

export type ArtifactBody = Buffer | string | AsyncIterable<Buffer | string> | NodeJS.ReadableStream | LentChunks;

/** An open artifact: its stream plus what a download response needs before the first byte. */
export interface OpenedArtifact {
  body: NodeJS.ReadableStream;
  bytes: number;
  contentType: string;
}

/**
 * Where result files live: the local disk (one machine) or an S3-compatible bucket (scale-out).
 * Keys are relative paths such as `org_x/bat_y/output.jsonl` (see `assertValidKey`).
 */
export interface ArtifactStore {
  readonly kind: "local" | "s3";
  /** Streams the body in; bytes and sha256 are computed on the way, never by buffering the whole body. */
  put(key: string, body: ArtifactBody, opts?: { contentType?: string }): Promise<StoredObject>;
  /** Throws AppError `not_found` when the object is missing. */
  get(key: string): Promise<NodeJS.ReadableStream>;
  /** Like `get`, plus the size and content type (for Content-Length / Content-Type on downloads). */
  open(key: string): Promise<OpenedArtifact>;
  /** Idempotent: deleting a missing object succeeds. */
  delete(key: string): Promise<void>;
  signedUrl(key: string, opts: { expiresInSeconds: number; filename?: string }): Promise<{ url: string; expires_at: string }>;
}

// Path segments are conservative on purpose: the same key must be a safe file path and a safe S3 key,
// and a leading dot is reserved (the local store keeps its temp files under `.tmp/`).
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const MAX_KEY_LENGTH = 512;
const FILENAME = /^[A-Za-z0-9_-][A-Za-z0-9._ -]{0,199}$/;

export function isValidKey(key: string): boolean {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  return key.split("/").every((s) => SEGMENT.test(s) && !s.includes(".."));
}

/** Keys are built by our own code, so a bad one is a bug (or a forged input): refuse it loudly. */
export function assertValidKey(key: string): void {
  if (!isValidKey(key)) {
    throw fail.invalidRequest("Invalid artifact key.", {
      errors: [{ path: "/key", message: "must be a relative path of [A-Za-z0-9._-] segments, without '..'" }],
    });
  }
}

export function assertValidFilename(filename: string): void {
  if (!FILENAME.test(filename) || filename.includes("..")) {
    throw fail.invalidRequest("Invalid download filename.", {
      errors: [{ path: "/filename", message: "must be 1-200 of [A-Za-z0-9._ -]" }],
    });
  }
}

export const artifactNotFound = () => fail.notFound("No such artifact.");

/** Content type by extension, for stores that keep no metadata (and the default for S3 puts). */
export function contentTypeFor(key: string): string {
  if (/\.(jsonl|ndjson)$/i.test(key)) return "application/x-ndjson";
  if (/\.json$/i.test(key)) return "application/json";
  if (/\.csv$/i.test(key)) return "text/csv; charset=utf-8";
  if (/\.txt$/i.test(key)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

/** Any accepted body as a Readable, so every store can pipe it through `hashingStream`. */
export function toReadable(body: ArtifactBody): Readable {
  if (typeof body === "string" || Buffer.isBuffer(body)) return Readable.from([body]);
  // A stream reads ahead and its consumers hold chunks: each lent one is copied first.
  if (body instanceof LentChunks) return Readable.from(copies(body.source), { highWaterMark: 1 });
  if (body instanceof Readable) return body;
  // One chunk read ahead, not Readable.from's default sixteen: a file's chunks are ~1 MB, and the
  // ones queued behind a busy writer lived long enough to reach V8's old generation, where their
  // memory waited for a full collection — tens of MB of a million-result file's peak.
  return Readable.from(body as AsyncIterable<Buffer | string>, { highWaterMark: 1 });
}

async function* copies(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield Buffer.from(chunk);
}

/** A pass-through that counts and hashes what flows through it; `result()` is valid once it has finished. */
export function hashingStream(): { stream: Transform; result(): StoredObject } {
  const hash = createHash("sha256");
  let bytes = 0;
  let sha256: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, result: () => ({ bytes, sha256: (sha256 ??= hash.digest("hex")) }) };
}

// ---- Signed download URLs of the local store (S3 signs its own) ----

export interface LocalUrlParams {
  key: string;
  /** Unix seconds. */
  expires: number;
  filename?: string;
}

// Fields joined by "\n": the key and filename can't contain one and expires is digits, so no two
// different parameter sets share a payload. A present filename (even "") is part of what is signed.
function signedPayload(p: LocalUrlParams): string {
  return p.filename === undefined ? `${p.key}\n${p.expires}` : `${p.key}\n${p.expires}\n${p.filename}`;
}

/** HMAC-SHA256 (hex) of a download link, with a key derived for this purpose only. */
export function signLocalUrl(secret: Buffer, p: LocalUrlParams): string {
  return hmacHex(deriveKey(secret, "artifact-url"), signedPayload(p));
}

/** The full local download URL, under the API's public base URL. */
export function buildLocalUrl(publicBaseUrl: string, secret: Buffer, p: LocalUrlParams): string {
  const q = new URLSearchParams({ key: p.key, expires: String(p.expires) });
  if (p.filename !== undefined) q.set("filename", p.filename);
  q.set("sig", signLocalUrl(secret, p));
  return `${publicBaseUrl.replace(/\/+$/, "")}/v1/artifacts/download?${q.toString()}`;
}

export type LocalSignatureCheck =
  | { ok: true; key: string; filename?: string }
  | { ok: false; reason: "missing" | "malformed" | "bad_signature" | "expired" };

/**
 * Checks a download link's query: shape, then the signature (constant time), then expiry — so an
 * "expired" verdict is only ever given to a link we really signed. Pure; `nowMs` is for tests.
 */
export function verifyLocalSignature(
  secret: Buffer,
  query: { key?: unknown; expires?: unknown; sig?: unknown; filename?: unknown },
  nowMs: number = Date.now(),
): LocalSignatureCheck {
  const { key, expires, sig, filename } = query;
  if (key === undefined || expires === undefined || sig === undefined) return { ok: false, reason: "missing" };
  if (typeof key !== "string" || typeof expires !== "string" || typeof sig !== "string") return { ok: false, reason: "malformed" };
  if (filename !== undefined && typeof filename !== "string") return { ok: false, reason: "malformed" };
  if (!/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig) || key.length > MAX_KEY_LENGTH) return { ok: false, reason: "malformed" };
  const expected = signLocalUrl(secret, { key, expires: Number(expires), filename });
  if (!safeEqual(expected, sig)) return { ok: false, reason: "bad_signature" };
  if (Number(expires) * 1000 <= nowMs) return { ok: false, reason: "expired" };
  return filename === undefined ? { ok: true, key } : { ok: true, key, filename };
}
