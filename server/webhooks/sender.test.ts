import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postPinned } from "./sender.js";

// Loopback only: the sender's pinning and deadline against a real socket.
let server: http.Server;
let port: number;
const seen: { host?: string; body: string; headers: http.IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ host: req.headers.host, body, headers: req.headers });
      if (req.url === "/hang") return; // never answers
      if (req.url === "/redirect") {
        res.writeHead(302, { Location: "http://127.0.0.1:1/" }).end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const post = (path: string, timeoutMs = 5_000) =>
  postPinned(
    // The name can't resolve: only the pinned address can be what was reached.
    { url: new URL(`http://hooks.invalid:${port}${path}`), address: "127.0.0.1", family: 4 },
    { headers: { "Content-Type": "application/json", "X-Test": "1" }, body: '{"a":1}', timeoutMs },
  );

describe("postPinned", () => {
  it("connects to the pinned address, never asking DNS, and keeps the URL's Host", async () => {
    await expect(post("/ok")).resolves.toEqual({ status: 204 });
    const last = seen.at(-1)!;
    expect(last.host).toBe(`hooks.invalid:${port}`);
    expect(last.body).toBe('{"a":1}');
    expect(last.headers["content-length"]).toBe("7");
    expect(last.headers["x-test"]).toBe("1");
  });

  it("does not follow redirects", async () => {
    await expect(post("/redirect")).resolves.toEqual({ status: 302 });
  });

  it("gives up after the deadline", async () => {
    await expect(post("/hang", 300)).rejects.toThrow("no response within 0.3 s");
  });

  it("reports a refused connection readably", async () => {
    const p = postPinned(
      { url: new URL("http://hooks.invalid:1/"), address: "127.0.0.1", family: 4 },
      { headers: {}, body: "{}", timeoutMs: 2_000 },
    );
    await expect(p).rejects.toThrow("connection refused");
  });
});
