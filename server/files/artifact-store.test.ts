import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buffer, text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { deriveKey, hmacHex } from "../crypto.js";
import { isAppError } from "../errors.js";
import { LocalArtifactStore } from "./artifact-store-local.js";
import { isValidKey, LentChunks, signLocalUrl, toReadable, verifyLocalSignature, type ArtifactStore } from "./artifact-store.js";
import { createArtifactStore } from "./artifact-stores.js";

const secret = randomBytes(32);
let dataDir: string;
let store: ArtifactStore;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-artifacts-"));
  store = await createArtifactStore(loadConfig({ BATCHROUTER_DATA_DIR: dataDir }), { publicBaseUrl: "http://api.test/", secret });
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const tmpFiles = () => fs.readdir(path.join(dataDir, "artifacts", ".tmp"));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

describe("local artifact store", () => {
  it("is the default without S3_BUCKET and keeps files under <data dir>/artifacts", async () => {
    expect(store.kind).toBe("local");
    await store.put("org_a/bat_1/output.jsonl", '{"a":1}\n');
    expect(await fs.readFile(path.join(dataDir, "artifacts", "org_a", "bat_1", "output.jsonl"), "utf8")).toBe('{"a":1}\n');
  });

  it("round-trips put/get/delete with bytes and sha256 equal to node:crypto's", async () => {
    const body = Buffer.concat([Buffer.from('{"x":"é"}\n'), randomBytes(10_000)]);
    const stored = await store.put("org_a/bat_2/output.jsonl", body);
    expect(stored).toEqual({ bytes: body.length, sha256: sha256(body) });
    const back = await buffer(await store.get("org_a/bat_2/output.jsonl"));
    expect(back.equals(body)).toBe(true);
    const opened = await store.open("org_a/bat_2/output.jsonl");
    expect(opened.bytes).toBe(body.length);
    expect(opened.contentType).toBe("application/x-ndjson");
    opened.body.resume();

    await store.delete("org_a/bat_2/output.jsonl");
    await store.delete("org_a/bat_2/output.jsonl"); // idempotent
    const err = await rejection(store.get("org_a/bat_2/output.jsonl"));
    expect(isAppError(err) && err.code).toBe("not_found");
  });

  it("hashes strings as UTF-8 and accepts an async iterable of mixed chunks", async () => {
    async function* parts() {
      yield "héllo ";
      yield Buffer.from("wörld\n");
    }
    const stored = await store.put("org_a/bat_3/mixed.jsonl", parts());
    expect(stored).toEqual({ bytes: Buffer.byteLength("héllo wörld\n"), sha256: sha256("héllo wörld\n") });
    expect(await text(await store.get("org_a/bat_3/mixed.jsonl"))).toBe("héllo wörld\n");
  });

  it("writes lent chunks as they come, each before the next is asked for (their one buffer is refilled)", async () => {
    const parts = Array.from({ length: 40 }, (_, i) => randomBytes(64 * 1024 + i));
    // One buffer, refilled for every chunk: a store that held a chunk past the next would store garbage.
    async function* lent() {
      const buf = Buffer.alloc(70 * 1024);
      for (const p of parts) {
        buf.fill(0);
        p.copy(buf);
        yield buf.subarray(0, p.length);
      }
    }
    const whole = Buffer.concat(parts);
    const stored = await store.put("org_a/bat_4/output.jsonl", new LentChunks(lent()));
    expect(stored).toEqual({ bytes: whole.length, sha256: sha256(whole) });
    expect((await buffer(await store.get("org_a/bat_4/output.jsonl"))).equals(whole)).toBe(true);
    // Read as a stream (what the S3 store uploads from), they are copied first.
    expect((await buffer(toReadable(new LentChunks(lent())))).equals(whole)).toBe(true);
  });

  it("streams a 50 MB body to disk while it is still being produced", async () => {
    const chunk = 1024 * 1024;
    const hash = createHash("sha256");
    let onDiskAtHalfway = -1;
    async function* produce() {
      for (let i = 0; i < 50; i++) {
        if (i === 25) {
          const sizes = await Promise.all(
            (await tmpFiles()).map(async (f) => (await fs.stat(path.join(dataDir, "artifacts", ".tmp", f))).size),
          );
          onDiskAtHalfway = sizes.reduce((a, b) => a + b, 0);
        }
        const b = Buffer.alloc(chunk, i % 251);
        hash.update(b);
        yield b;
      }
    }
    const stored = await store.put("org_a/bat_4/big.jsonl", produce());
    expect(stored).toEqual({ bytes: 50 * chunk, sha256: hash.digest("hex") });
    // Buffering the whole body first would leave nothing on disk halfway through the producer.
    expect(onDiskAtHalfway).toBeGreaterThan(10 * chunk);
    expect((await fs.stat(path.join(dataDir, "artifacts", "org_a", "bat_4", "big.jsonl"))).size).toBe(50 * chunk);
    expect(await tmpFiles()).toEqual([]);
    await store.delete("org_a/bat_4/big.jsonl");
  });

  it("a failed write leaves the previous artifact intact and no temp file behind", async () => {
    await store.put("org_a/bat_5/output.jsonl", "old\n");
    async function* broken() {
      yield Buffer.alloc(100_000, 1);
      throw new Error("producer died");
    }
    const err = await rejection(store.put("org_a/bat_5/output.jsonl", broken()));
    expect((err as Error).message).toBe("producer died");
    expect(await text(await store.get("org_a/bat_5/output.jsonl"))).toBe("old\n");
    expect(await tmpFiles()).toEqual([]);
  });

  it("refuses keys that are absolute, climb out, or use odd characters", async () => {
    for (const key of ["org_a/bat_1/output.jsonl", "a", "a-b_c.d/e.jsonl"]) expect(isValidKey(key), key).toBe(true);
    const bad = [
      "",
      "/etc/passwd",
      "../x",
      "a/../../x",
      "a/..",
      "a//b",
      "a/",
      ".tmp/x",
      "a/.hidden",
      "a\\b",
      "a b",
      "a\nb",
      "a/b?c",
      "ä",
      "x".repeat(600),
    ];
    for (const key of bad) {
      expect(isValidKey(key), JSON.stringify(key)).toBe(false);
      const err = await rejection(store.put(key, "x"));
      expect(isAppError(err) && err.code, JSON.stringify(key)).toBe("invalid_request");
    }
    await expect(store.get("../platform-secret")).rejects.toMatchObject({ code: "invalid_request" });
    await expect(store.signedUrl("a/../b", { expiresInSeconds: 60 })).rejects.toMatchObject({ code: "invalid_request" });
    await expect(store.signedUrl("a/b", { expiresInSeconds: 60, filename: 'x"\r\nSet-Cookie: y' })).rejects.toMatchObject({
      code: "invalid_request",
    });
  });

  it("sweeps temp files a crashed writer left behind, and only stale ones", async () => {
    const root = path.join(dataDir, "sweep");
    await fs.mkdir(path.join(root, ".tmp"), { recursive: true });
    const stale = path.join(root, ".tmp", "stale.part");
    const fresh = path.join(root, ".tmp", "fresh.part");
    await fs.writeFile(stale, "half");
    await fs.writeFile(fresh, "in progress");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(stale, twoHoursAgo, twoHoursAgo);
    await LocalArtifactStore.create(root, { publicBaseUrl: "http://api.test", secret });
    expect(await fs.readdir(path.join(root, ".tmp"))).toEqual(["fresh.part"]);
  });
});

describe("local signed URLs", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  const expires = now / 1000 + 900;
  const params = (over: Record<string, unknown> = {}) => ({
    key: "org_a/bat_1/output.jsonl",
    expires: String(expires),
    sig: signLocalUrl(secret, { key: "org_a/bat_1/output.jsonl", expires }),
    ...over,
  });

  it("signedUrl builds a link under the public base URL that verifies", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { url, expires_at } = await store.signedUrl("org_a/bat_1/output.jsonl", {
      expiresInSeconds: 900,
      filename: "bat_1-output.jsonl",
    });
    const u = new URL(url);
    expect(`${u.origin}${u.pathname}`).toBe("http://api.test/v1/artifacts/download");
    const q = Object.fromEntries(u.searchParams);
    expect(q.key).toBe("org_a/bat_1/output.jsonl");
    expect(Number(q.expires)).toBeGreaterThanOrEqual(before + 900);
    expect(Date.parse(expires_at)).toBe(Number(q.expires) * 1000);
    expect(verifyLocalSignature(secret, q)).toEqual({ ok: true, key: "org_a/bat_1/output.jsonl", filename: "bat_1-output.jsonl" });
  });

  it("accepts a valid link until it expires", () => {
    expect(verifyLocalSignature(secret, params(), now)).toEqual({ ok: true, key: "org_a/bat_1/output.jsonl" });
    expect(verifyLocalSignature(secret, params(), expires * 1000 - 1).ok).toBe(true);
    expect(verifyLocalSignature(secret, params(), expires * 1000)).toEqual({ ok: false, reason: "expired" });
  });

  it("rejects a tampered key, expires, filename or signature", () => {
    expect(verifyLocalSignature(secret, params({ key: "org_b/bat_1/output.jsonl" }), now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyLocalSignature(secret, params({ expires: String(expires + 3600) }), now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyLocalSignature(secret, params({ filename: "evil.html" }), now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyLocalSignature(secret, params({ filename: "" }), now)).toEqual({ ok: false, reason: "bad_signature" });
    const sig = params().sig;
    const flipped = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
    expect(verifyLocalSignature(secret, params({ sig: flipped }), now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyLocalSignature(randomBytes(32), params(), now)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("rejects missing and malformed parameters", () => {
    const { sig: _sig, ...unsigned } = params();
    expect(verifyLocalSignature(secret, unsigned, now)).toEqual({ ok: false, reason: "missing" });
    expect(verifyLocalSignature(secret, params({ sig: params().sig.toUpperCase() }), now)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyLocalSignature(secret, params({ expires: "1e12" }), now)).toEqual({ ok: false, reason: "malformed" });
    expect(verifyLocalSignature(secret, params({ key: ["a", "b"] }), now)).toEqual({ ok: false, reason: "malformed" });
  });

  it("uses a key derived for this purpose, not the platform secret itself", () => {
    const p = { key: "k", expires: 1 };
    expect(signLocalUrl(secret, p)).toMatch(/^[0-9a-f]{64}$/);
    expect(signLocalUrl(secret, p)).not.toBe(hmacHex(secret, "k\n1"));
    expect(signLocalUrl(secret, p)).toBe(hmacHex(deriveKey(secret, "artifact-url"), "k\n1"));
  });
});
