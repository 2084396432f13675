import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect } from "vitest";
import { makeItems } from "./batches.js";

/** Shared by test/mcp-*.test.ts: real MCP SDK clients, and the agent path both transports run. */

export const BIN = fileURLToPath(new URL("../../bin/batchrouter-mcp.js", import.meta.url));

export const TOOL_NAMES = [
  "register_agent",
  "get_account",
  "list_models",
  "list_workflow_products",
  "quote_batch",
  "submit_batch",
  "get_batch_status",
  "list_batches",
  "get_batch_results",
  "get_artifact_url",
  "cancel_batch",
  "send_feedback",
];

export interface StdioSession {
  client: Client;
  stderr: () => string;
  close(): Promise<void>;
}

/** Spawns the real `bin/batchrouter-mcp.js` with plain node, from an unrelated directory (as npx would). */
export async function stdioClient(env: { BATCHROUTER_BASE_URL?: string; BATCHROUTER_API_KEY?: string }): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>,
    cwd: os.tmpdir(),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: "batchrouter-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

/** A client of the server's own /mcp endpoint, authenticated with `key`. */
export async function httpClient(base: string, key: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: "batchrouter-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

export interface ToolAnswer {
  isError: boolean;
  data: any;
  error: { code: string; message: string; next_step: string; details: any; request_id: string | null } | undefined;
  text: string;
}

/** Calls a tool; a protocol error (a throw) fails the test, since tools must answer with results. */
export async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const res = await client.callTool({ name, arguments: args });
  const content = res.content as { type: string; text: string }[];
  const text = content.map((c) => c.text).join("\n");
  if (res.isError) {
    // A readable sentence, then the error envelope as JSON.
    const json = JSON.parse(content[1]!.text) as { error: ToolAnswer["error"] };
    return { isError: true, data: undefined, error: json.error, text };
  }
  expect(res.structuredContent).toBeDefined();
  expect(JSON.parse(content[1]!.text)).toEqual(res.structuredContent);
  return { isError: false, data: res.structuredContent, error: undefined, text };
}

/** Expects a tool error with our code; returns it. */
export async function toolError(client: Client, name: string, args: Record<string, unknown>, code: string) {
  const res = await tool(client, name, args);
  expect(res.isError, `${name} should fail with ${code}: ${res.text}`).toBe(true);
  expect(res.error?.code, res.text).toBe(code);
  expect(res.text).toMatch(/What to do: .+/);
  return res.error!;
}

/** Every tool is there, named exactly, every input field described, every tool with an output schema. */
export async function expectToolCatalog(client: Client) {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
  for (const t of tools) {
    expect(t.description, t.name).toBeTruthy();
    expect(t.outputSchema, `${t.name} outputSchema`).toBeDefined();
    for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {})) {
      expect((schema as { description?: string }).description, `${t.name}.${field}`).toBeTruthy();
    }
  }
}

/**
 * register → quote → submit → poll → results → feedback, as an agent would drive it, from a
 * session whose key is already set. Returns the batch id.
 */
export async function runAgentPath(client: Client, prefix: string): Promise<string> {
  const items = makeItems(3, { prefix });
  const quote = await tool(client, "quote_batch", { items, routing_mode: "cheapest" });
  expect(quote.isError, quote.text).toBe(false);
  expect(quote.data.quote_id).toMatch(/^qlock_/);
  expect(quote.data.item_count).toBe(3);
  expect(quote.text).toContain("submit_batch");

  const submitted = await tool(client, "submit_batch", { items, quote_id: quote.data.quote_id });
  expect(submitted.isError, submitted.text).toBe(false);
  const batch = submitted.data.batch;
  expect(batch.id).toMatch(/^bat_/);
  expect(submitted.data.replayed).toBe(false);
  expect(submitted.data.idempotency_key).toMatch(/^mcp-batch-[0-9a-f]{48}$/);
  // The same submission again (a model retrying) returns the same batch, not a second one.
  const again = await tool(client, "submit_batch", { items, quote_id: quote.data.quote_id });
  expect(again.data).toMatchObject({ replayed: true, batch: { id: batch.id } });

  const status = await tool(client, "get_batch_status", { batch_id: batch.id, wait_seconds: 30 });
  expect(status.isError, status.text).toBe(false);
  expect(status.data).toMatchObject({ done: true, batch: { id: batch.id, status: "completed", counts: { completed: 3, failed: 0 } } });
  expect(status.text).toContain("get_batch_results");

  const page1 = await tool(client, "get_batch_results", { batch_id: batch.id, limit: 2 });
  expect(page1.isError, page1.text).toBe(false);
  expect(page1.data.summary).toMatchObject({ status: "completed", item_count: 3, completed: 3, failed: 0 });
  expect(page1.data.results.map((r: { customer_item_id: string }) => r.customer_item_id)).toEqual([`${prefix}-0`, `${prefix}-1`]);
  expect(page1.data.results[0].output.text).toContain("simulated");
  expect(page1.data.has_more).toBe(true);
  const page2 = await tool(client, "get_batch_results", { batch_id: batch.id, limit: 2, cursor: page1.data.next_cursor });
  expect(page2.data).toMatchObject({
    has_more: false,
    next_cursor: null,
    results: [{ customer_item_id: `${prefix}-2`, status: "completed" }],
  });

  const link = await tool(client, "get_artifact_url", { batch_id: batch.id });
  expect(link.data).toMatchObject({ kind: "output", format: "jsonl" });
  const file = await fetch(link.data.url);
  expect(file.status).toBe(200);
  expect((await file.text()).trim().split("\n")).toHaveLength(3);

  const fb = await tool(client, "send_feedback", { batch_id: batch.id, rating: 4, label: "accepted", reason: "Good summaries." });
  expect(fb.isError, fb.text).toBe(false);
  expect(fb.data).toMatchObject({ object: "feedback", batch_id: batch.id, score: 0.75, label: "accepted", items_rated: 3 });
  expect(fb.data.id).toMatch(/^fb_/);

  const list = await tool(client, "list_batches", { limit: 5 });
  expect(list.data.data.map((b: { id: string }) => b.id)).toContain(batch.id);
  return batch.id;
}

export const tmpFile = (name: string) => path.join(os.tmpdir(), `batchrouter-mcp-${process.pid}-${Date.now()}-${name}`);
