import Router from "@koa/router";
import Koa from "koa";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../server/config.js";
import { buildLocalUrl, type ArtifactStore } from "../server/files/artifact-store.js";
import { createArtifactStore } from "../server/files/artifact-stores.js";
import type { AppContext, AppDeps, AppState, RateLimiters } from "../server/http/context.js";
import { errorEnvelope } from "../server/http/middleware/errors.js";
import { requestId } from "../server/http/middleware/request-id.js";
import { mountRoutes } from "../server/http/route.js";
import { artifactRoutes } from "../server/http/routes/artifacts.js";
import { createLogger } from "../server/logger.js";
import { waitFor } from "./helpers/wait.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A 1 MiB-chunked generator, so puts are fed as a stream and never as one buffer. */
function chunked(body: Buffer, size = 1024 * 1024) {
  return (async function* () {
    for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
  })();
}

describe("GET /v1/artifacts/download (local store)", () => {
  const secret = randomBytes(32);
  let dataDir: string;
  let server: Server;
  let base: string;
  let store: ArtifactStore;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-artifacts-http-"));
    // Just the download route behind the app's request-id and error middleware: it needs no database.
    const deps = { logger: createLogger("silent") } as unknown as AppDeps;
    // Listen first: the store's links need the port in their base URL.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = await createArtifactStore(loadConfig({ BATCHROUTER_DATA_DIR: dataDir }), { publicBaseUrl: base, secret });
    const app = new Koa<AppState, AppContext>();
    app.silent = true;
    const router = new Router();
    mountRoutes(router, artifactRoutes({ artifacts: store, secret }), deps, {} as RateLimiters);
    app.use(requestId(deps));
    app.use(errorEnvelope());
    app.use(router.routes());
    server.on("request", app.callback());
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  async function expectForbidden(url: string) {
    const res = await fetch(url, { headers: { "X-Request-Id": "req_artifact_test" } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: { code: "forbidden", message: "This download link is invalid or has expired.", details: {}, request_id: "req_artifact_test" },
    });
  }

  it("serves the exact bytes through a signed link, with length, type and filename", async () => {
    const body = Buffer.concat([Buffer.from('{"custom_id":"a","output":"ok"}\n'), randomBytes(3 * 1024 * 1024)]);
    const stored = await store.put("org_a/bat_1/output.jsonl", chunked(body));
    const { url, expires_at } = await store.signedUrl("org_a/bat_1/output.jsonl", {
      expiresInSeconds: 900,
      filename: "bat_1-output.jsonl",
    });
    expect(url.startsWith(`${base}/v1/artifacts/download?`)).toBe(true);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(890_000);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    expect(res.headers.get("content-length")).toBe(String(body.length));
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="bat_1-output.jsonl"; filename*=UTF-8''bat_1-output.jsonl`);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const got = Buffer.from(await res.arrayBuffer());
    expect(got.length).toBe(stored.bytes);
    expect(sha256(got)).toBe(stored.sha256);
    expect(got.equals(body)).toBe(true);
  });

  it("sends no Content-Disposition when the link names no filename", async () => {
    await store.put("org_a/bat_2/errors.jsonl", "");
    const res = await fetch((await store.signedUrl("org_a/bat_2/errors.jsonl", { expiresInSeconds: 60 })).url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBeNull();
    expect(res.headers.get("content-length")).toBe("0");
    expect(await res.text()).toBe("");
  });

  it("refuses tampered, incomplete and expired links with 403 forbidden", async () => {
    await store.put("org_a/bat_3/output.jsonl", "mine\n");
    await store.put("org_b/bat_9/output.jsonl", "someone else's\n");
    const { url } = await store.signedUrl("org_a/bat_3/output.jsonl", { expiresInSeconds: 900, filename: "out.jsonl" });
    const tamper = (name: string, value: string | null) => {
      const u = new URL(url);
      if (value === null) u.searchParams.delete(name);
      else u.searchParams.set(name, value);
      return u.toString();
    };
    const sig = new URL(url).searchParams.get("sig")!;
    const expires = Number(new URL(url).searchParams.get("expires"));

    await expectForbidden(tamper("key", "org_b/bat_9/output.jsonl"));
    await expectForbidden(tamper("expires", String(expires + 86_400)));
    await expectForbidden(tamper("filename", "out.html"));
    await expectForbidden(tamper("filename", null));
    await expectForbidden(tamper("sig", sig.replace(/^./, sig[0] === "a" ? "b" : "a")));
    await expectForbidden(tamper("sig", null));
    await expectForbidden(`${base}/v1/artifacts/download`);
    await expectForbidden(`${url}&key=org_b/bat_9/output.jsonl`); // a repeated parameter is not a second chance

    const past = Math.floor(Date.now() / 1000) - 1;
    await expectForbidden(buildLocalUrl(base, secret, { key: "org_a/bat_3/output.jsonl", expires: past }));
    // Signed with another deployment's secret.
    await expectForbidden(buildLocalUrl(base, randomBytes(32), { key: "org_a/bat_3/output.jsonl", expires: past + 900 }));

    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("mine\n");
  });

  it("answers 404 for a valid link to a deleted artifact", async () => {
    await store.put("org_a/bat_4/output.jsonl", "x\n");
    const { url } = await store.signedUrl("org_a/bat_4/output.jsonl", { expiresInSeconds: 900 });
    await store.delete("org_a/bat_4/output.jsonl");
    const res = await fetch(url);
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatchObject({ code: "not_found", message: "No such artifact." });
  });
});

// s3rver ships no types; this is the part of its API the test uses.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;

describe("S3 artifact store against s3rver", () => {
  const bucket = "artifacts";
  let dir: string;
  let s3rver: S3rverInstance;
  let store: ArtifactStore;
  const requests: string[] = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "batchrouter-s3rver-"));
    s3rver = new S3rver({
      address: "127.0.0.1",
      port: 0,
      silent: true,
      directory: path.join(dir, "s3"),
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    const { port } = await s3rver.run();
    s3rver.httpServer.prependListener("request", (req: { method?: string; url?: string }) => requests.push(`${req.method} ${req.url}`));
    const config = loadConfig({
      BATCHROUTER_DATA_DIR: path.join(dir, "data"),
      S3_BUCKET: bucket,
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "1",
    });
    store = await createArtifactStore(config, { publicBaseUrl: "http://api.test", secret: randomBytes(32) });
  });
  afterAll(async () => {
    s3rver.httpServer.closeAllConnections();
    await s3rver.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("streams a multi-MB put as a multipart upload, gets it back, presigns, deletes", async () => {
    expect(store.kind).toBe("s3");
    const body = randomBytes(12 * 1024 * 1024 + 123);
    const key = "org_a/bat_1/output.jsonl";
    requests.length = 0;
    const stored = await store.put(key, chunked(body));
    expect(stored).toEqual({ bytes: body.length, sha256: sha256(body) });
    // 8 MiB parts: a create, two parts and a complete — the body was never sent as one request.
    expect(requests.filter((r) => r.startsWith("POST") && r.includes("uploads"))).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith("PUT") && r.includes("partNumber="))).toHaveLength(2);

    const opened = await store.open(key);
    expect(opened.bytes).toBe(body.length);
    expect(opened.contentType).toBe("application/x-ndjson");
    expect(sha256(await buffer(opened.body))).toBe(stored.sha256);

    const { url, expires_at } = await store.signedUrl(key, { expiresInSeconds: 900, filename: "bat_1-output.jsonl" });
    expect(url).toContain("X-Amz-Signature=");
    expect(Math.abs(Date.parse(expires_at) - (Date.now() + 900_000))).toBeLessThan(5_000);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="bat_1-output.jsonl"');
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(stored.sha256);

    await store.delete(key);
    await store.delete(key); // idempotent
    await expect(store.get(key)).rejects.toMatchObject({ code: "not_found" });
    expect((await fetch(url)).status).toBe(404);
  });

  it("stores a small body in one request with its content type", async () => {
    requests.length = 0;
    const stored = await store.put("org_a/bat_2/receipt.json", '{"ok":true}', { contentType: "application/json" });
    expect(stored).toEqual({ bytes: 11, sha256: sha256(Buffer.from('{"ok":true}')) });
    expect(requests.filter((r) => r.includes("uploads") || r.includes("partNumber="))).toEqual([]);
    const opened = await store.open("org_a/bat_2/receipt.json");
    expect(opened.contentType).toBe("application/json");
    expect((await buffer(opened.body)).toString()).toBe('{"ok":true}');
  });

  it("a producer failing mid-multipart fails the put and publishes no object", async () => {
    requests.length = 0;
    async function* broken() {
      yield randomBytes(9 * 1024 * 1024);
      // Fail only once the first part is on its way, so the multipart upload is really in flight.
      await waitFor(
        () => (requests.some((r) => r.includes("partNumber=1")) ? true : undefined),
        10_000,
        "lib-storage to send part 1 of the multipart upload",
      );
      throw new Error("producer died");
    }
    await expect(store.put("org_a/bat_3/output.jsonl", broken())).rejects.toThrow("producer died");
    // lib-storage aborted the multipart upload, so no orphaned parts are left in the bucket.
    expect(requests.filter((r) => r.startsWith("DELETE") && r.includes("uploadId="))).toHaveLength(1);
    await expect(store.get("org_a/bat_3/output.jsonl")).rejects.toMatchObject({ code: "not_found" });
  });

  it("an unreachable bucket fails the put instead of leaving the producer stuck", async () => {
    const down = await createArtifactStore(
      loadConfig({
        BATCHROUTER_DATA_DIR: dir,
        S3_BUCKET: bucket,
        S3_ENDPOINT: "http://127.0.0.1:1",
        S3_ACCESS_KEY_ID: "x",
        S3_SECRET_ACCESS_KEY: "y",
        S3_FORCE_PATH_STYLE: "1",
      }),
      { publicBaseUrl: "http://api.test", secret: randomBytes(32) },
    );
    await expect(down.put("org_a/bat_5/output.jsonl", chunked(randomBytes(20 * 1024 * 1024)))).rejects.toThrow();
  });

  it("answers not_found for a missing key", async () => {
    await expect(store.open("org_a/nope/output.jsonl")).rejects.toMatchObject({ code: "not_found" });
  });
});
