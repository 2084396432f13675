import { describe, expect, it } from "vitest";
import { type Answer, answerProblems, type FuzzRequest } from "./answer-checks.js";
import { violates } from "./json-schema.js";

// The fuzz suite passes when the server is right; these show its checks fail when the server is wrong.

const req = (path: string): FuzzRequest => ({ method: "POST", path, headers: {}, body: new Uint8Array(), note: "" });
const answer = (status: number, body: unknown, requestId: string | null = "req_1"): Answer => ({
  status,
  headers: new Headers(requestId ? { "x-request-id": requestId } : {}),
  text: typeof body === "string" ? body : JSON.stringify(body),
});
const native = { error: { code: "invalid_request", message: "m", details: {}, request_id: "req_1" } };

describe("answerProblems", () => {
  it("passes a 4xx in the envelope of each surface", () => {
    expect(answerProblems(req("/v1/batches"), answer(400, native))).toEqual([]);
    const openai = { error: { message: "m", type: "invalid_request_error", param: null, code: "invalid_request" } };
    expect(answerProblems(req("/v1/openai/v1/batches"), answer(400, openai))).toEqual([]);
    const anthropic = { type: "error", error: { type: "invalid_request_error", message: "m" } };
    expect(answerProblems(req("/v1/anthropic/v1/messages/batches"), answer(404, anthropic))).toEqual([]);
  });

  it("flags a 5xx, an accepted bad input, a 429, a missing request id and a transport failure", () => {
    expect(answerProblems(req("/v1/batches"), answer(500, native))).toEqual(["answered 500"]);
    expect(answerProblems(req("/v1/batches"), answer(202, { id: "bat_1" }))).toEqual(["accepted with 202"]);
    expect(answerProblems(req("/v1/batches"), answer(429, native))).toEqual(["rate limited (raise the fuzz limits)"]);
    expect(answerProblems(req("/v1/batches"), answer(400, native, null))).toContain("no X-Request-Id");
    expect(answerProblems(req("/v1/batches"), { status: 0, headers: new Headers(), text: "ECONNRESET" })).toHaveLength(1);
  });

  it("flags an envelope of the wrong surface, a request id that differs, a body that isn't JSON", () => {
    expect(answerProblems(req("/v1/openai/v1/batches"), answer(400, native))).toHaveLength(1);
    expect(answerProblems(req("/v1/anthropic/v1/messages/batches"), answer(400, native))).toHaveLength(1);
    expect(answerProblems(req("/v1/batches"), answer(400, { error: { ...native.error, request_id: "req_2" } }))).toHaveLength(1);
    expect(answerProblems(req("/v1/batches"), answer(400, { error: { code: "x", message: "m" } }))).toHaveLength(1);
    expect(answerProblems(req("/v1/batches"), answer(400, "Bad Request"))).toHaveLength(1);
  });
});

describe("violates", () => {
  const schema = {
    type: "object",
    required: ["a"],
    additionalProperties: false,
    properties: { a: { type: "integer", minimum: 1 }, b: { anyOf: [{ type: "string", maxLength: 2 }, { type: "null" }] } },
  };
  it("says a value is bad only when the schema says so", () => {
    expect(violates(schema, { a: 1, b: "xy" })).toBe(false);
    expect(violates(schema, { a: 1, b: null })).toBe(false);
    for (const bad of [{}, { a: 0 }, { a: 1.5 }, { a: "1" }, { a: 1, b: "xyz" }, { a: 1, b: 3 }, { a: 1, c: 1 }, [], null]) {
      expect(violates(schema, bad), JSON.stringify(bad)).toBe(true);
    }
    // An unconstrained schema ({} — "anything") never counts as violated: the fuzzer can't claim it.
    expect(violates({}, { anything: [1, 2] })).toBe(false);
  });
});
