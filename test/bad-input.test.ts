import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
let agent: Awaited<ReturnType<typeof registerAgent>>;
let revokedKey: string;
beforeAll(async () => {
  srv = await startTestServer();
  agent = await registerAgent(srv.base);
  const made = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.api_key, body: {} });
  revokedKey = made.body.api_key;
  await call(srv.base, "DELETE", `/v1/auth/account/api-keys/${made.body.id}`, { key: agent.api_key });
});
afterAll(async () => srv?.close());

const AUTHED: [string, string][] = [
  ["GET", "/v1/auth/account"],
  ["POST", "/v1/auth/account/api-keys"],
  ["GET", "/v1/auth/account/api-keys"],
  ["POST", "/v1/auth/account/api-keys/KEY/rotate"],
  ["DELETE", "/v1/auth/account/api-keys/KEY"],
  ["GET", "/v1/billing/ledger"],
];
const BODIES: [string, unknown][] = [
  ["malformed JSON", '{"name":'],
  ["a JSON array", "[1,2,3]"],
  ["a JSON string", '"hello"'],
  ["null", "null"],
  ["wrong types", { name: ["x"], scopes: "read", grace_seconds: "soon", expires_at: 7, agent_name: {} }],
  ["unknown fields", { nonsense: true }],
  ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString("latin1")],
  ["deep nesting", "[".repeat(5000) + "]".repeat(5000)],
];

async function snapshot() {
  const db = srv.database.db;
  const [orgs, keys, ledger] = await Promise.all([
    db("orgs").count("* as n"),
    db("api_keys").select("id", "secret_hash", "revoked_at", "name").orderBy("id"),
    db("ledger_entries").count("* as n"),
  ]);
  return JSON.stringify({ orgs, keys, ledger });
}

describe("bad input never answers 500 and changes nothing", () => {
  it("without a key, with an unknown, revoked, malformed or other-environment key: 401", async () => {
    const before = await snapshot();
    const keys: (string | undefined)[] = [undefined, "br_live_doesnotexist000000000000000000", revokedKey, "not-a-key", "Basic abc"];
    for (const [method, path] of AUTHED) {
      for (const key of keys) {
        const headers = key === "Basic abc" ? { Authorization: "Basic abc" } : undefined;
        const res = await call(srv.base, method, path.replace("KEY", agent.api_key_id), {
          key: headers ? undefined : key,
          headers,
          body: method === "POST" ? {} : undefined,
        });
        expect(res.status, `${method} ${path} with ${key}`).toBe(401);
        expect(res.body.error.code).toBe("unauthorized");
        expect(res.body.error.request_id).toBeTruthy();
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it("every bad body to every endpoint of the foundation gets a 4xx in the envelope", async () => {
    const before = await snapshot();
    const targets: [string, string, string | undefined][] = [
      ["POST", "/v1/auth/agent-register", undefined],
      ["POST", "/v1/auth/account/api-keys", agent.api_key],
      ["POST", `/v1/auth/account/api-keys/${agent.api_key_id}/rotate`, agent.api_key],
      ["DELETE", `/v1/auth/account/api-keys/${agent.api_key_id}`, agent.api_key],
    ];
    for (const [method, path, key] of targets) {
      for (const [label, body] of BODIES) {
        // DELETE takes no body; sending one must not revoke or crash anything either way.
        if (method === "DELETE") continue;
        const res = await call(srv.base, method, path, { key, body });
        expect(res.status, `${method} ${path} with ${label}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path} with ${label}`).toBeLessThan(500);
        expect(Object.keys(res.body.error).sort()).toEqual(["code", "details", "message", "request_id"]);
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it("odd query strings and ids are 4xx, not 500", async () => {
    const cases: [string, string][] = [
      ["GET", "/v1/billing/ledger?limit=0"],
      ["GET", "/v1/billing/ledger?limit=abc"],
      ["GET", "/v1/billing/ledger?limit=100000"],
      ["GET", `/v1/billing/ledger?cursor=${"z".repeat(500)}`],
      ["POST", `/v1/auth/account/api-keys/${"k".repeat(300)}/rotate`],
      ["DELETE", "/v1/auth/account/api-keys/%E0%A4%A"],
    ];
    for (const [method, path] of cases) {
      const res = await call(srv.base, method, path, { key: agent.api_key, body: method === "POST" ? {} : undefined });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });
});
