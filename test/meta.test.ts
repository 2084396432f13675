import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startTestServer, type TestServer } from "./helpers/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

describe("health and readiness", () => {
  it("answers /healthz and /readyz with the database and queue checked", async () => {
    expect((await call(srv.base, "GET", "/healthz")).body).toEqual({ status: "ok" });
    const ready = await call(srv.base, "GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", checks: { database: "ok", queue: "ok" } });
  });

  it("says not ready when the queue's tables are gone", async () => {
    const other = await startTestServer();
    await other.database.db.raw("DROP SCHEMA pgboss CASCADE");
    const res = await call(other.base, "GET", "/readyz");
    await other.close();
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: "service_unavailable", details: { checks: { database: "ok", queue: "unreachable" } } });
  });
});

describe("capabilities and OpenAPI", () => {
  it("lists runtime capabilities", async () => {
    const res = await call(srv.base, "GET", "/v1/capabilities");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: "capabilities", email: false, checkout: false, s3_artifacts: false });
    expect(res.body.providers).toMatchObject({ openai: "simulated", anthropic: "simulated", openrouter: "simulated" });
    expect(Object.keys(res.body.providers)).toHaveLength(11);
  });

  it("publishes an OpenAPI 3.1 document built from the routes' own schemas", async () => {
    const res = await call(srv.base, "GET", "/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/v1/auth/agent-register",
      "/v1/auth/account",
      "/v1/auth/account/api-keys",
      "/v1/auth/account/api-keys/{id}/rotate",
      "/v1/capabilities",
      "/healthz",
      "/readyz",
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const create = doc.paths["/v1/auth/account/api-keys"].post;
    const schema = create.requestBody.content["application/json"].schema;
    expect(schema.properties.scopes.items.enum).toEqual(["quote", "submit", "read", "cancel", "feedback", "billing", "keys"]);
    expect(schema.additionalProperties).toBe(false);
    expect(create.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/v1/auth/agent-register"].post.security).toBeUndefined();
    const rotate = doc.paths["/v1/auth/account/api-keys/{id}/rotate"].post;
    expect(rotate.parameters.find((p: { name: string }) => p.name === "id")).toMatchObject({ in: "path", required: true });
    expect(doc.components.schemas.Error.properties.error.required).toContain("request_id");
  });
});
