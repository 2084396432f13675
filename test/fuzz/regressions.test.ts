import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer, type TestServer } from "../helpers/server.js";

// Plain cases for the defects the fuzz suite found, so each stays fixed whatever the generators draw.

let srv: TestServer;
let key: string;
beforeAll(async () => {
  srv = await startTestServer();
  key = (await registerAgent(srv.base)).test_api_key;
});
afterAll(async () => srv?.close());

const item = { customer_item_id: "a", model: "gpt-4o-mini", input: { messages: [{ role: "user", content: "hi" }] } };
const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

describe("fuzz regressions", () => {
  // Found while fuzzing deep values under open objects: provider_preferences passes extra keys through, and
  // the body guard only walked texts with a NUL, surrogate or overflow escape in them — so a value nested
  // 5,000 deep reached JSON.stringify in insertQuote (RangeError: Maximum call stack size exceeded → 500),
  // and one 300 deep was stored as part of a quote, past the 256 levels server/text-guard.ts promises.
  it("a body nested past 256 levels where the schema takes anything is a 400, not a 500 or a stored quote", async () => {
    const before = await srv.database.db("quotes").count<{ n: string }[]>("* as n");
    for (const [label, deep] of [
      ["arrays 300", deepArray(300)],
      ["arrays 5,000", deepArray(5_000)],
      ["arrays 50,000", deepArray(50_000)],
      ["objects 5,000", deepObject(5_000)],
    ] as const) {
      const body = `{"items":[${JSON.stringify(item)}],"provider_preferences":{"x":${deep}}}`;
      const res = await call(srv.base, "POST", "/v1/quotes/model", { key, body });
      expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.request_id).toBe(res.headers.get("x-request-id"));
      expect(res.body.error.details.errors[0].path).toMatch(/^\/provider_preferences\/x\//);
    }
    expect(await srv.database.db("quotes").count<{ n: string }[]>("* as n")).toEqual(before);
    // Nesting within the limit is still taken.
    const ok = `{"items":[${JSON.stringify(item)}],"provider_preferences":{"x":${deepArray(100)}}}`;
    expect((await call(srv.base, "POST", "/v1/quotes/model", { key, body: ok })).status).toBe(200);
  });
});
