import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { makeItems } from "./helpers/batches.js";
import { expectToolCatalog, runAgentPath, stdioClient, tmpFile, tool, toolError, type StdioSession } from "./helpers/mcp.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";

let srv: TestServer;
// Live keys run on loopback fakes of OpenAI and Anthropic (test keys on the simulator).
let providers: LiveProviders;
const sessions: StdioSession[] = [];
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await srv?.close();
  await providers?.close();
});

async function open(key?: string, base = srv.base) {
  const s = await stdioClient({ BATCHROUTER_BASE_URL: base, BATCHROUTER_API_KEY: key });
  sessions.push(s);
  return s.client;
}

describe("the batchrouter-mcp command over stdio", () => {
  it("signs up from inside the agent and runs the whole path on the test key", async () => {
    const client = await open();
    await expectToolCatalog(client);

    // Before sign-up: the catalog works, anything needing a key says how to get one.
    const models = await tool(client, "list_models", { operation: "embeddings" });
    expect(models.isError, models.text).toBe(false);
    expect(models.data.data.map((m: { slug: string }) => m.slug)).toContain("text-embedding-3-small");
    const products = await tool(client, "list_workflow_products");
    expect(products.data.data.length).toBeGreaterThan(0);
    const noKey = await toolError(client, "get_account", {}, "unauthorized");
    expect(noKey.next_step).toContain("register_agent");
    expect(noKey.next_step).toContain("BATCHROUTER_API_KEY");

    const reg = await tool(client, "register_agent", { agent_name: "stdio test agent" });
    expect(reg.isError, reg.text).toBe(false);
    expect(reg.data).toMatchObject({ status: "registered", session_environment: "test", test_credit_balance: { amount: "100.000000" } });
    expect(reg.data.api_key).toMatch(/^br_live_/);
    expect(reg.data.test_api_key).toMatch(/^br_test_/);
    expect(reg.text).toMatch(/Store both keys/);
    expect(reg.text).toContain(`BATCHROUTER_API_KEY=${reg.data.api_key}`);
    expect(reg.text).toContain(`credits grant ${reg.data.org_id}`);

    const account = await tool(client, "get_account");
    expect(account.data).toMatchObject({ org_id: reg.data.org_id, environment: "test" });
    const again = await tool(client, "register_agent");
    expect(again.data).toMatchObject({ status: "already_registered", org_id: reg.data.org_id });

    const batchId = await runAgentPath(client, "stdio");
    const stored = await srv.database.db("feedback").where({ batch_id: batchId }).first();
    expect(stored).toMatchObject({ org_id: reg.data.org_id, environment: "test", score: 0.75, label: "accepted" });
    // The live key the agent was handed works on its own.
    expect((await call(srv.base, "GET", "/v1/auth/account", { key: reg.data.api_key })).body.environment).toBe("live");
  });

  it("uploads a local JSONL file_path, quotes it and submits it once", async () => {
    const agent = await registerAgent(srv.base);
    const client = await open(agent.test_api_key);
    const file = tmpFile("manifest.jsonl");
    await fs.writeFile(
      file,
      `${makeItems(4, { prefix: "file" })
        .map((i) => JSON.stringify(i))
        .join("\n")}\n`,
    );
    try {
      const quote = await tool(client, "quote_batch", { file_path: file });
      expect(quote.isError, quote.text).toBe(false);
      expect(quote.data.item_count).toBe(4);
      const submitted = await tool(client, "submit_batch", { file_path: file, quote_id: quote.data.quote_id });
      expect(submitted.isError, submitted.text).toBe(false);
      expect(submitted.data.batch).toMatchObject({ item_count: 4, quote_id: quote.data.quote_id });
      // The same file uploaded twice (quote, then submit) is one file.
      expect(await srv.database.db("files").where({ org_id: agent.org_id, purpose: "batch" }).count("* as n")).toEqual([{ n: 1 }]);
      const done = await tool(client, "get_batch_status", { batch_id: submitted.data.batch.id, wait_seconds: 30 });
      expect(done.data.batch.counts.completed).toBe(4);
      const missing = await toolError(client, "submit_batch", { file_path: `${file}.nope` }, "invalid_request");
      expect(missing.message).toContain("no such file");
    } finally {
      await fs.rm(file, { force: true });
    }
  });

  it("answers bad input, unknown batches and wrong states with readable tool errors", async () => {
    const agent = await registerAgent(srv.base);
    const client = await open(agent.test_api_key);

    // Caught by the tool's own schema or by the API: the same code, paths and advice either way.
    const schema = await toolError(client, "get_batch_status", { batch_id: "bat_x", wait_seconds: 999 }, "invalid_request");
    expect(schema.details.errors).toEqual([{ path: "/wait_seconds", message: expect.stringContaining("45") }]);
    expect(schema.next_step).toContain("/wait_seconds");
    const typed = await toolError(client, "submit_batch", { items: [{ customer_item_id: 5, input: {} }] }, "invalid_request");
    expect(typed.details.errors[0].path).toBe("/items/0/customer_item_id");
    // Caught by the API: our code, the JSON-Pointer path, and what to do.
    const bad = await toolError(
      client,
      "submit_batch",
      { items: [{ customer_item_id: "a", input: { temperature: 1 } }] },
      "invalid_request",
    );
    expect(bad.next_step).toContain("/items/0/input");
    const both = await toolError(client, "quote_batch", { items: makeItems(1), input_file_id: "file_x" }, "invalid_request");
    expect(both.message).toContain("exactly one of");
    const unknown = await toolError(client, "get_batch_status", { batch_id: "bat_does_not_exist" }, "not_found");
    expect(unknown.next_step).toContain("list_batches");
    await toolError(client, "get_batch_results", { batch_id: "bat_does_not_exist" }, "not_found");

    const submitted = await tool(client, "submit_batch", { items: makeItems(1, { prefix: "once" }) });
    await tool(client, "get_batch_status", { batch_id: submitted.data.batch.id, wait_seconds: 30 });
    const ended = await toolError(client, "cancel_batch", { batch_id: submitted.data.batch.id }, "invalid_state");
    expect(ended.next_step).toContain("completed");
  });

  it("tells the live key's shortfall and how to add credits, then runs once credits arrive", async () => {
    const agent = await registerAgent(srv.base);
    const client = await open(agent.api_key);
    const items = makeItems(2, { prefix: "live" });
    const short = await toolError(client, "submit_batch", { items }, "insufficient_credits");
    expect(Number(short.details.shortfall.amount)).toBeGreaterThan(0);
    expect(short.details.available.amount).toBe("0.000000");
    expect(short.next_step).toContain(`Missing ${short.details.shortfall.amount} USD`);
    expect(short.next_step).toContain(`npm run admin -- credits grant ${agent.org_id}`);
    expect(await srv.database.db("batches").where({ org_id: agent.org_id }).count("* as n")).toEqual([{ n: 0 }]);

    // The stored 402 of the derived key must not block the same submission once funded.
    await post(srv.database.db, {
      org_id: agent.org_id,
      environment: "live",
      kind: "promo_grant",
      available_delta: 5_000_000,
      posting_key: "grant:mcp",
    });
    const ok = await tool(client, "submit_batch", { items });
    expect(ok.isError, ok.text).toBe(false);
    expect(ok.data.batch.environment).toBe("live");
    expect(ok.data.idempotency_key).toMatch(/^mcp-batch-[0-9a-f]{48}-1$/); // the next link of the derived key's chain
    expect((await tool(client, "submit_batch", { items })).data).toMatchObject({ replayed: true, batch: { id: ok.data.batch.id } });
  });

  it("says so when the platform can't be reached", async () => {
    const client = await open("br_test_whatever", "http://127.0.0.1:9");
    const down = await toolError(client, "get_account", {}, "service_unavailable");
    expect(down.next_step).toContain("BATCHROUTER_BASE_URL");
    const refused = await open("br_test_not_a_real_key");
    expect((await toolError(refused, "list_batches", {}, "unauthorized")).next_step).toContain("BATCHROUTER_API_KEY");
  });
});
