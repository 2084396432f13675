import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../server/http/app.js";
import { isJsonResponse, type RouteSpec } from "../server/http/route.js";
import { createBatch, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { httpClient, tool } from "./helpers/mcp.js";
import { call, startTestServer, waitFor, type TestServer } from "./helpers/server.js";

/**
 * Every route's response schema (server/<domain>/responses.ts) against what the running server
 * really answers: each JSON body must parse, and parse to itself — a field the schema doesn't name
 * is dropped by z.object, so the two differ and the test fails. These schemas are what
 * /v1/openapi.json publishes and what the MCP tools declare as their output, so a drift here is a
 * wrong public contract.
 */

let srv: TestServer;
let routes: RouteSpec[];
let receiver: http.Server;
let hookUrl: string;
const checked = new Set<string>();

beforeAll(async () => {
  // gpt-4o's lane refuses submits (a 30 s Retry-After), so a batch of it waits unsent: one to cancel.
  srv = await startTestServer({}, { worker: { simulator: { turnaroundMs: 0, faults: { "*/gpt-4o/*": { submit_error: "capacity" } } } } });
  routes = createApp(srv.platform.appDeps, srv.platform.mcp).routes;
  receiver = http.createServer((req, res) => req.resume().on("end", () => res.writeHead(204).end()));
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await srv?.close();
  receiver?.close();
});

const label = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

function routeOf(method: string, path: string): RouteSpec {
  const route = routes.find((r) => r.method === method && r.path === path);
  if (!route) throw new Error(`no route ${label(method, path)}`);
  return route;
}

/** The answer has the route's status, and its body is exactly what the route's response schema says. */
function expectResponse(method: string, path: string, res: { status: number; body: unknown }): any {
  const route = routeOf(method, path);
  expect(res.status, `${label(method, path)}: ${JSON.stringify(res.body)}`).toBe(route.status ?? 200);
  if (!isJsonResponse(route.response)) throw new Error(`${label(method, path)} declares no JSON response schema`);
  const parsed = route.response.safeParse(res.body);
  if (!parsed.success) throw new Error(`${label(method, path)} drifted from its response schema:\n${z.prettifyError(parsed.error)}`);
  expect(parsed.data, `${label(method, path)}: a field its schema doesn't name`).toEqual(res.body);
  checked.add(label(method, path));
  return res.body;
}

/** A raw (non-JSON) answer carries one of the media types its route declares. */
async function expectRaw(method: string, path: string, res: Response): Promise<string> {
  const route = routeOf(method, path);
  expect(res.status, label(method, path)).toBe(route.status ?? 200);
  if (!route.response || isJsonResponse(route.response)) throw new Error(`${label(method, path)} should declare its media types`);
  expect(route.response.contentTypes).toContain(res.headers.get("content-type")?.split(";")[0]);
  checked.add(label(method, path));
  return res.text();
}

let agent: { api_key: string; test_api_key: string };
let key: string;

describe("every route answers what its response schema says", () => {
  it("accounts, keys and the delivery webhook", async () => {
    agent = expectResponse(
      "post",
      "/v1/auth/agent-register",
      await call(srv.base, "POST", "/v1/auth/agent-register", { body: { agent_name: "schemas" } }),
    );
    key = agent.test_api_key;
    expectResponse("get", "/v1/auth/account", await call(srv.base, "GET", "/v1/auth/account", { key }));
    const create = { key: agent.api_key, body: { name: "ci", scopes: ["read"] }, headers: { "Idempotency-Key": "schemas-key-0001" } };
    const created = expectResponse("post", "/v1/auth/account/api-keys", await call(srv.base, "POST", "/v1/auth/account/api-keys", create));
    const replay = expectResponse("post", "/v1/auth/account/api-keys", await call(srv.base, "POST", "/v1/auth/account/api-keys", create));
    expect(replay.api_key).toBeNull();
    expectResponse("get", "/v1/auth/account/api-keys", await call(srv.base, "GET", "/v1/auth/account/api-keys", { key: agent.api_key }));
    const keyPath = `/v1/auth/account/api-keys/${created.id}`;
    expectResponse(
      "post",
      "/v1/auth/account/api-keys/:id/rotate",
      await call(srv.base, "POST", `${keyPath}/rotate`, { key: agent.api_key, body: { grace_seconds: 60 } }),
    );
    expectResponse("delete", "/v1/auth/account/api-keys/:id", await call(srv.base, "DELETE", keyPath, { key: agent.api_key }));

    const hook = "/v1/auth/account/delivery-webhook";
    expectResponse("get", hook, await call(srv.base, "GET", hook, { key }));
    expectResponse("put", hook, await call(srv.base, "PUT", hook, { key, body: { url: hookUrl, secret: "whsec-schemas-0001" } }));
    expectResponse("get", hook, await call(srv.base, "GET", hook, { key }));
    expectResponse("delete", hook, await call(srv.base, "DELETE", hook, { key }));
  });

  it("the catalog, capabilities and health", async () => {
    const get = async (path: string, route = path) => expectResponse("get", route, await call(srv.base, "GET", path));
    await get("/healthz");
    await get("/readyz");
    await get("/v1/capabilities");
    await get("/v1/openapi.json");
    await get("/v1/pricing");
    await get("/v1/route-policies");
    const models = await get("/v1/catalog/models");
    await get("/v1/catalog/models?operation=embeddings&region=eu", "/v1/catalog/models");
    for (const m of models.data) await get(`/v1/catalog/models/${m.slug}`, "/v1/catalog/models/:slug");
    const products = await get("/v1/catalog/workflow-products");
    for (const w of products.data) await get(`/v1/catalog/workflow-products/${w.slug}`, "/v1/catalog/workflow-products/:slug");
    const providers = await get("/v1/providers");
    for (const p of providers.data) await get(`/v1/providers/${p.slug}`, "/v1/providers/:slug");
  });

  it("quotes: items, volume, workflow and a stored one", async () => {
    const post = async (path: string, body: unknown) => expectResponse("post", path, await call(srv.base, "POST", path, { key, body }));
    const q = await post("/v1/quotes/model", {
      items: makeItems(3),
      max_price: "5",
      provider_preferences: { ignore: ["groq"] },
      metadata: { team: "ci" },
    });
    await post("/v1/batches/quote", { models: ["gpt-4o-mini", "claude-haiku-4"], estimated_items: 1000, routing_mode: "sla_aware" });
    await post("/v1/quotes/workflow", { workflow: "classify-support-tickets@v3", estimated_items: 50 });
    expectResponse("get", "/v1/quotes/:id", await call(srv.base, "GET", `/v1/quotes/${q.quote_id}`, { key }));
  });

  it("files: a manifest upload, the files API and its bytes", async () => {
    const ndjson = `${makeItems(2, { prefix: "up" })
      .map((i) => JSON.stringify(i))
      .join("\n")}\n`;
    const raw = await fetch(`${srv.base}/v1/batches/input-manifests`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson" },
      body: ndjson,
    });
    const manifest = expectResponse("post", "/v1/batches/input-manifests", { status: raw.status, body: await raw.json() });
    const form = new FormData();
    form.set("purpose", "batch");
    form.set("file", new Blob([ndjson]), "items.jsonl");
    const multipart = await fetch(`${srv.base}/v1/files`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: form });
    const file = expectResponse("post", "/v1/files", { status: multipart.status, body: await multipart.json() });

    expectResponse("get", "/v1/files", await call(srv.base, "GET", "/v1/files?limit=1", { key }));
    expectResponse("get", "/v1/files/:id", await call(srv.base, "GET", `/v1/files/${manifest.id}`, { key }));
    const bytes = await fetch(`${srv.base}/v1/files/${manifest.id}/content`, { headers: { Authorization: `Bearer ${key}` } });
    expect(await expectRaw("get", "/v1/files/:id/content", bytes)).toBe(ndjson);
    expectResponse("delete", "/v1/files/:id", await call(srv.base, "DELETE", `/v1/files/${file.id}`, { key }));
  });

  let batchId: string;
  it("a batch from create to its receipts, feedback and quality", async () => {
    const items = [...makeItems(3, { prefix: "ok" }), ...makeItems(1, { prefix: "bad", text: () => "[simulate:content_policy]" })];
    const q = expectResponse("post", "/v1/quotes/model", await call(srv.base, "POST", "/v1/quotes/model", { key, body: { items } }));
    const body = { items, quote_id: q.quote_id, webhook: { url: hookUrl }, metadata: { run: "schemas" } };
    const first = expectResponse("post", "/v1/batches", await createBatch(srv.base, key, body, "schemas-batch-0001"));
    expect(first.batch.webhook.secret).toEqual(expect.any(String));
    const replay = expectResponse("post", "/v1/batches", await createBatch(srv.base, key, body, "schemas-batch-0001"));
    expect(replay.batch.webhook.secret).toBeNull();
    batchId = first.batch.id;
    const at = (sub = "") => `/v1/batches/${batchId}${sub}`;
    const get = async (sub: string, route: string) => expectResponse("get", route, await call(srv.base, "GET", at(sub), { key }));

    await get("", "/v1/batches/:id");
    await untilTerminal(srv.base, key, batchId);
    expectResponse("get", "/v1/batches", await call(srv.base, "GET", "/v1/batches?limit=5", { key }));
    const done = await get("?include_billing_receipt=true", "/v1/batches/:id");
    expect(done.batch.billing_receipt).toBeDefined();
    expect(done.batch.counts).toMatchObject({ completed: 3, failed: 1 });

    const page1 = await get("/results?limit=2", "/v1/batches/:id/results");
    expect(page1.has_more).toBe(true);
    await get(`/results?cursor=${page1.next_cursor}`, "/v1/batches/:id/results");
    const failed = await get("/results?status=failed", "/v1/batches/:id/results");
    expect(failed.results[0].error).toMatchObject({ code: "content_policy", provider_status: expect.any(Number) });
    for (const kind of ["output", "errors", "receipt"]) {
      const link = await get(`/artifact-url?kind=${kind}`, "/v1/batches/:id/artifact-url");
      await expectRaw("get", "/v1/artifacts/download", await fetch(link.url));
    }
    await get("/route-receipt", "/v1/batches/:id/route-receipt");
    await get("/billing-receipt", "/v1/batches/:id/billing-receipt");
    await waitFor(
      async () => {
        const list = await call(srv.base, "GET", at("/webhook-deliveries"), { key });
        return list.body.data.some((d: { status: string }) => d.status === "delivered") ? list : undefined;
      },
      20_000,
      "a webhook delivery",
    );
    await get("/webhook-deliveries", "/v1/batches/:id/webhook-deliveries");

    const feedback = { key, body: { rating: 4, label: "accepted", customer_item_ids: ["ok-0", "ok-1"], reason: "fine" } };
    expectResponse("post", "/v1/batches/:id/feedback", await call(srv.base, "POST", at("/feedback"), feedback));
    await get("/quality", "/v1/batches/:id/quality");
    expectResponse(
      "get",
      "/v1/batches/optimization-report",
      await call(srv.base, "GET", "/v1/batches/optimization-report?window=7d", { key }),
    );
    expectResponse("get", "/v1/billing/ledger", await call(srv.base, "GET", "/v1/billing/ledger", { key }));
    expectResponse("get", "/v1/files", await call(srv.base, "GET", "/v1/files?purpose=batch_output", { key }));
  });

  it("a cancelled batch", async () => {
    const batch = await mustCreate(srv.base, key, { items: makeItems(2, { prefix: "c", model: "gpt-4o" }) });
    const cancel = expectResponse(
      "post",
      "/v1/batches/:id/cancel",
      await call(srv.base, "POST", `/v1/batches/${batch.id}/cancel`, { key }),
    );
    expect(cancel.status).toMatch(/^cancel/);
    await untilTerminal(srv.base, key, batch.id);
    expectResponse("get", "/v1/batches/:id", await call(srv.base, "GET", `/v1/batches/${batch.id}`, { key }));
    expectResponse("get", "/v1/batches/:id/results", await call(srv.base, "GET", `/v1/batches/${batch.id}/results`, { key }));
  });

  it("MCP tools answer what the matching routes answer, field for field", async () => {
    const client = await httpClient(srv.base, key);
    try {
      const api = async (path: string) => (await call(srv.base, "GET", path, { key })).body;
      const data = async (name: string, args: Record<string, unknown> = {}) => {
        const res = await tool(client, name, args);
        expect(res.isError, res.text).toBe(false);
        return res.data;
      };
      await client.listTools(); // so the client checks each result against the tool's output schema
      expect(await data("get_account")).toEqual(await api("/v1/auth/account"));
      expect(await data("list_models", { operation: "responses" })).toEqual(await api("/v1/catalog/models?operation=responses"));
      expect(await data("list_workflow_products")).toEqual(await api("/v1/catalog/workflow-products"));
      expect((await data("get_batch_status", { batch_id: batchId })).batch).toEqual((await api(`/v1/batches/${batchId}`)).batch);
      expect(await data("list_batches", { limit: 5 })).toEqual(await api("/v1/batches?limit=5"));
      const results = await data("get_batch_results", { batch_id: batchId, limit: 500 });
      expect(results.results).toEqual((await api(`/v1/batches/${batchId}/results?limit=500`)).results);
      const { url: _u, expires_at: _e, ...link } = await data("get_artifact_url", { batch_id: batchId, kind: "errors" });
      const { url: _u2, expires_at: _e2, ...viaHttp } = await api(`/v1/batches/${batchId}/artifact-url?kind=errors`);
      expect(link).toEqual(viaHttp);
      const quote = await data("quote_batch", { items: makeItems(2, { prefix: "mcp" }) });
      expect(Object.keys(quote).sort()).toEqual(
        Object.keys(await api(`/v1/quotes/${quote.quote_id}`))
          .filter((k) => k !== "batch_id")
          .sort(),
      );
    } finally {
      await client.close();
    }
  });

  it("covers every JSON route, and /v1/openapi.json describes every success body", async () => {
    const unchecked = routes.map((r) => label(r.method, r.path)).filter((l) => !checked.has(l));
    expect(unchecked).toEqual([]);
    const doc = (await call(srv.base, "GET", "/v1/openapi.json")).body;
    for (const route of routes) {
      const op = doc.paths[route.path.replace(/:([A-Za-z_]+)/g, "{$1}")][route.method];
      const success = op.responses[String(route.status ?? 200)];
      expect(success, label(route.method, route.path)).toBeDefined();
      const json = success.content["application/json"]?.schema;
      if (isJsonResponse(route.response)) {
        expect(json?.type, label(route.method, route.path)).toBe("object");
        expect(Object.keys(json.properties ?? {}).length, `${label(route.method, route.path)} has a response schema`).toBeGreaterThan(0);
      } else {
        expect(json, label(route.method, route.path)).toBeUndefined();
        expect(Object.keys(success.content).length).toBeGreaterThan(0);
      }
    }
  });
});
