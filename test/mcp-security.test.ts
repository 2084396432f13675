import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeItems } from "./helpers/batches.js";
import { httpClient, tool, toolError } from "./helpers/mcp.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

/**
 * /mcp against what a black-box probe found: browser origins and DNS rebinding (MCP spec, Streamable
 * HTTP "Security Warning"), malformed request params answered as internal errors, and NUL or lone
 * surrogates in tool arguments reaching PostgreSQL.
 */

const ALLOWED = "https://console.example.com";
let srv: TestServer;
let key: string;
beforeAll(async () => {
  srv = await startTestServer({ BATCHROUTER_ALLOWED_ORIGINS: `${ALLOWED}/, https://other.example.com` });
  key = (await registerAgent(srv.base)).test_api_key;
});
afterAll(async () => srv?.close());

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const mcpHeaders = { Accept: "application/json, text/event-stream" };

/** One JSON-RPC request to /mcp with the key; `headers` may add an Origin. */
const rpc = (base: string, body: unknown, headers: Record<string, string> = {}, withKey: string | undefined = key) =>
  call(base, "POST", "/mcp", { key: withKey, body, headers: { ...mcpHeaders, ...headers } });

/** fetch can't set Host (a forbidden header), so DNS-rebinding requests go through node:http. */
function postWithHost(base: string, host: string, body: unknown): Promise<{ status: number; body: any }> {
  const url = new URL(`${base}/mcp`);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          ...mcpHeaders,
          Host: host,
          Authorization: `Bearer ${key}`,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = "";
        res
          .setEncoding("utf8")
          .on("data", (c: string) => (text += c))
          .on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject).end(payload);
  });
}

function expectForbidden(res: { status: number; body: any }) {
  expect(res.status).toBe(403);
  expect(res.body).toEqual({
    error: { code: "forbidden", message: expect.any(String), details: {}, request_id: expect.stringMatching(/^req_/) },
  });
}

describe("/mcp Origin and Host checks", () => {
  it("refuses a foreign browser Origin with 403 forbidden, before authentication", async () => {
    expectForbidden(await rpc(srv.base, initialize, { Origin: "http://evil.example.com" }));
    // Without a key too: the origin is refused before auth, so a page learns nothing about keys.
    expectForbidden(await rpc(srv.base, initialize, { Origin: "http://evil.example.com" }, undefined));
    expectForbidden(await rpc(srv.base, initialize, { Origin: "null" }));
    // Loopback origins count as ours only on our own host:port.
    const port = new URL(srv.base).port;
    expectForbidden(await rpc(srv.base, initialize, { Origin: "http://127.0.0.1:1" }));
    expectForbidden(await rpc(srv.base, initialize, { Origin: `http://localhost:${port}` })); // Host is 127.0.0.1:port
    expectForbidden(await rpc(srv.base, initialize, { Origin: `https://127.0.0.1:${port}.evil.example.com` }));
  });

  it("serves requests without an Origin, from its own origin, and from BATCHROUTER_ALLOWED_ORIGINS", async () => {
    const origins: Record<string, string>[] = [{}, { Origin: srv.base }, { Origin: ALLOWED }, { Origin: "https://other.example.com:443" }];
    for (const headers of origins) {
      const res = await rpc(srv.base, initialize, headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(res.body.result.serverInfo.name).toBe("batchrouter");
    }
  });

  it("refuses a Host that is not one of its names (DNS rebinding) while bound to loopback", async () => {
    const port = new URL(srv.base).port;
    expectForbidden(await postWithHost(srv.base, `evil.example.com:${port}`, initialize));
    expectForbidden(await postWithHost(srv.base, "evil.example.com", initialize));
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "console.example.com"]) {
      const ok = await postWithHost(srv.base, host, initialize);
      expect(ok.status, host).toBe(200);
      expect(ok.body.result.serverInfo.name).toBe("batchrouter");
    }
  });

  it("takes BATCHROUTER_PUBLIC_URL as its own origin and host name", async () => {
    const pub = await startTestServer(
      { HOST: "0.0.0.0", BATCHROUTER_PUBLIC_URL: "https://br.example.com/base" },
      { database: srv.database },
    );
    try {
      expect((await rpc(pub.base, initialize, { Origin: "https://br.example.com" })).status).toBe(200);
      expectForbidden(await rpc(pub.base, initialize, { Origin: "http://br.example.com" }));
      expect((await postWithHost(pub.base, "br.example.com", initialize)).status).toBe(200);
      expectForbidden(await postWithHost(pub.base, "evil.example.com", initialize));
    } finally {
      await pub.close();
    }
  });

  it("skips the Host check on a wildcard bind without BATCHROUTER_PUBLIC_URL, where it can't know its names", async () => {
    const open = await startTestServer({ HOST: "0.0.0.0" }, { database: srv.database });
    try {
      expect((await postWithHost(open.base, "batchrouter.internal:8080", initialize)).status).toBe(200);
      expectForbidden(await rpc(open.base, initialize, { Origin: "http://evil.example.com" }));
    } finally {
      await open.close();
    }
  });
});

describe("MCP request params", () => {
  /** A JSON-RPC −32602 with the API's JSON-pointer messages, not a −32603 with a zod dump. */
  async function expectInvalidParams(body: unknown, errors: { path: string; message: RegExp }[]) {
    const res = await rpc(srv.base, body);
    expect(res.status).toBe(200);
    expect(res.body.error.code, JSON.stringify(res.body)).toBe(-32602);
    expect(res.body.error.message).toBe(`Invalid params: ${errors[0]!.path}: ${res.body.error.data.errors[0].message}`);
    expect(res.body.error.data.errors).toEqual(errors.map((e) => ({ path: e.path, message: expect.stringMatching(e.message) })));
    return res.body.error;
  }

  it("answers bad tools/call params with −32602 and JSON-pointer paths", async () => {
    const err = await expectInvalidParams(
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "quote_batch", arguments: "notanobject" } },
      [{ path: "/arguments", message: /expected record, received string/ }],
    );
    expect(err.message).not.toMatch(/"code"|invalid_type/);
    await expectInvalidParams({ jsonrpc: "2.0", id: 3, method: "tools/call", params: {} }, [
      { path: "/name", message: /expected string, received undefined/ },
    ]);
  });

  it("answers an initialize without protocolVersion or clientInfo with −32602", async () => {
    await expectInvalidParams({ jsonrpc: "2.0", id: 4, method: "initialize", params: { capabilities: {} } }, [
      { path: "/protocolVersion", message: /expected string/ },
      { path: "/clientInfo", message: /expected object/ },
    ]);
  });

  it("still answers object arguments with wrong fields as an invalid_request tool error, with escaped pointers", async () => {
    const client = await httpClient(srv.base, key);
    try {
      const err = await toolError(client, "quote_batch", { items: makeItems(1), metadata: { "a/b~c": 5 } }, "invalid_request");
      expect(err.details.errors).toEqual([{ path: "/metadata/a~1b~0c", message: expect.stringMatching(/expected string/) }]);
    } finally {
      await client.close();
    }
  });
});

describe("NUL and lone surrogates in tool arguments", () => {
  it("answers them as invalid_request tool errors and stores nothing", async () => {
    const agent = await registerAgent(srv.base);
    const client = await httpClient(srv.base, agent.test_api_key);
    const items = makeItems(1, { prefix: "nul" });
    const cases: [string, Record<string, unknown>, string][] = [
      ["quote_batch", { items, metadata: { k: "a\u0000b" } }, "/metadata/k"],
      ["quote_batch", { items, metadata: { "k\u0000": "v" } }, "/metadata/k\u0000"],
      ["submit_batch", { items, metadata: { k: "a\u0000b" } }, "/metadata/k"],
      ["submit_batch", { items: makeItems(1, { prefix: "nul\u0000" }) }, "/items/0/customer_item_id"],
      ["submit_batch", { items, idempotency_key: "key-\u0000-00001" }, "/idempotency_key"],
      ["submit_batch", { items, metadata: { k: "lone \ud800 surrogate" } }, "/metadata/k"],
      ["get_batch_status", { batch_id: "bat_\u0000" }, "/batch_id"],
      ["get_batch_results", { batch_id: "bat_x", cursor: "\u0000" }, "/cursor"],
      ["list_batches", { cursor: "c\u0000" }, "/cursor"],
      ["send_feedback", { batch_id: "bat_x", score: 1, reason: "bad \udc00" }, "/reason"],
    ];
    try {
      for (const [name, args, path] of cases) {
        const err = await toolError(client, name, args, "invalid_request");
        expect(err.details.errors, name).toEqual([{ path, message: expect.stringMatching(/NUL character|unpaired UTF-16 surrogate/) }]);
        expect(err.message).toContain(`Invalid arguments: ${path}: `);
      }
      // The session still works after them.
      expect((await tool(client, "list_batches")).data.data).toEqual([]);
    } finally {
      await client.close();
    }
    const db = srv.database.db;
    for (const table of ["batches", "quotes", "feedback"]) {
      expect(await db(table).where({ org_id: agent.org_id }).count("* as n"), table).toEqual([{ n: 0 }]);
    }
    expect(await db("idempotency_keys").where("scope", "like", `${agent.org_id}:%`).count("* as n")).toEqual([{ n: 0 }]);
  });
});
