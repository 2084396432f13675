import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { makeItems } from "./helpers/batches.js";
import { expectToolCatalog, httpClient, runAgentPath, tool, toolError } from "./helpers/mcp.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";

let srv: TestServer;
// Live keys run on loopback fakes of OpenAI and Anthropic (test keys on the simulator).
let providers: LiveProviders;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const mcpHeaders = { Accept: "application/json, text/event-stream" };

describe("/mcp over Streamable HTTP", () => {
  it("runs the whole agent path with the Bearer key, stateless", async () => {
    const agent = await registerAgent(srv.base);
    const client = await httpClient(srv.base, agent.test_api_key);
    try {
      await expectToolCatalog(client);
      const reg = await tool(client, "register_agent");
      expect(reg.data).toMatchObject({ status: "already_registered", org_id: agent.org_id, session_environment: "test" });
      expect((await tool(client, "get_account")).data).toMatchObject({ org_id: agent.org_id, environment: "test" });
      const batchId = await runAgentPath(client, "http");
      expect(await srv.database.db("feedback").where({ batch_id: batchId }).count("* as n")).toEqual([{ n: 1 }]);
    } finally {
      await client.close();
    }
  });

  it("refuses requests without a valid key, and answers GET and DELETE with 405", async () => {
    const none = await call(srv.base, "POST", "/mcp", { body: initialize, headers: mcpHeaders });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(none.body.error.code).toBe("unauthorized");
    expect((await call(srv.base, "POST", "/mcp", { key: "br_test_nope", body: initialize, headers: mcpHeaders })).status).toBe(401);

    const agent = await registerAgent(srv.base);
    const ok = await call(srv.base, "POST", "/mcp", { key: agent.test_api_key, body: initialize, headers: mcpHeaders });
    expect(ok.status).toBe(200);
    expect(ok.body.result.serverInfo.name).toBe("batchrouter");
    expect(ok.headers.get("mcp-session-id")).toBeNull();
    expect(ok.headers.get("x-request-id")).toMatch(/^req_/);
    for (const method of ["GET", "DELETE"]) {
      const res = await call(srv.base, method, "/mcp", { key: agent.test_api_key, headers: { Accept: "text/event-stream" } });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
    }
  });

  it("answers failures as tool errors with our codes", async () => {
    const agent = await registerAgent(srv.base);
    const client = await httpClient(srv.base, agent.test_api_key);
    try {
      const file = await toolError(client, "submit_batch", { file_path: "/tmp/items.jsonl" }, "invalid_request");
      expect(file.message).toContain("input_file_id");
      const bad = await toolError(
        client,
        "quote_batch",
        { items: [{ customer_item_id: "a", model: "no-such-model", input: { messages: [{ role: "user", content: "hi" }] } }] },
        "invalid_request",
      );
      expect(bad.details.errors[0].path).toMatch(/^\/items\/0/);
      await toolError(client, "get_batch_results", { batch_id: "bat_does_not_exist" }, "not_found");
      await toolError(client, "send_feedback", { batch_id: "bat_does_not_exist", score: 1 }, "not_found");
      await toolError(client, "list_batches", { limit: 0 }, "invalid_request");
    } finally {
      await client.close();
    }
  });

  it("tells the live key's shortfall, and checks each tool's scope", async () => {
    const agent = await registerAgent(srv.base);
    const live = await httpClient(srv.base, agent.api_key);
    try {
      const short = await toolError(live, "submit_batch", { items: makeItems(1) }, "insufficient_credits");
      expect(short.details).toMatchObject({ available: { amount: "0.000000" }, shortfall: { amount: expect.any(String) } });
      expect(short.next_step).toContain(`credits grant ${agent.org_id}`);
    } finally {
      await live.close();
    }
    const readOnly = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key: agent.test_api_key, body: { scopes: ["read"] } });
    const reader = await httpClient(srv.base, readOnly.body.api_key);
    try {
      expect((await tool(reader, "list_batches")).isError).toBe(false);
      const denied = await toolError(reader, "submit_batch", { items: makeItems(1) }, "insufficient_scope");
      expect(denied.next_step).toContain("`submit` scope");
    } finally {
      await reader.close();
    }
  });

  it("shares Idempotency-Keys with the HTTP API: the same key and body are one batch", async () => {
    const agent = await registerAgent(srv.base);
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "test",
      kind: "promo_grant",
      available_delta: 1_000_000,
      posting_key: "grant:idem",
    });
    const client = await httpClient(srv.base, agent.test_api_key);
    try {
      const items = makeItems(2, { prefix: "shared" });
      const viaMcp = await tool(client, "submit_batch", { items, idempotency_key: "shared-key-0001" });
      expect(viaMcp.data.idempotency_key).toBe("shared-key-0001");
      const viaHttp = await call(srv.base, "POST", "/v1/batches", {
        key: agent.test_api_key,
        body: { items },
        headers: { "Idempotency-Key": "shared-key-0001" },
      });
      expect(viaHttp.body.batch.id).toBe(viaMcp.data.batch.id);
      expect(viaHttp.headers.get("idempotent-replayed")).toBe("true");
      const conflict = await toolError(
        client,
        "submit_batch",
        { items: makeItems(1), idempotency_key: "shared-key-0001" },
        "idempotency_conflict",
      );
      expect(conflict.next_step).toContain("new idempotency_key");
    } finally {
      await client.close();
    }
  });
});
