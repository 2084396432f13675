import { describe, expect, it } from "vitest";
import { errors, fail } from "../../errors.js";
import { openAiErrorBody } from "./errors.js";

describe("errors in OpenAI's envelope", () => {
  it("has exactly message, type, param and code, the type following the status", () => {
    expect(openAiErrorBody(errors.notFound("batch"))).toEqual({
      error: { message: "No such batch.", type: "invalid_request_error", param: null, code: "not_found" },
    });
    expect(openAiErrorBody(fail.internalError("oops")).error.type).toBe("server_error");
    expect(openAiErrorBody(fail.invalidState("ended")).error.type).toBe("invalid_request_error");
  });

  it("names the field at fault as a dotted param", () => {
    const e = errors.invalidRequest("bad", [{ path: "/metadata/sla_tier", message: "no" }]);
    expect(openAiErrorBody(e).error.param).toBe("metadata.sla_tier");
  });

  it("folds a manifest's line errors into the message", () => {
    const e = fail.preflightFailed("The manifest was not stored: line 2: bad.", {
      preflight: [
        { line: 2, message: "bad" },
        { line: 5, message: "duplicate custom_id" },
      ],
    });
    expect(openAiErrorBody(e).error.message).toContain("line 5: duplicate custom_id");
  });
});
