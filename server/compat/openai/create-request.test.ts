import { describe, expect, it } from "vitest";
import { isAppError } from "../../errors.js";
import { lineEndpointProblem, openAiCreateBatchSchema, routingFromMetadata } from "./create-request.js";

describe("OpenAI batch create → our create", () => {
  it("reads routing options from metadata, regions as a comma-separated list", () => {
    expect(routingFromMetadata(undefined)).toEqual({});
    expect(routingFromMetadata({ project: "x" })).toEqual({});
    expect(
      routingFromMetadata({ routing_mode: "sla_aware", sla_tier: " flex", privacy_tier: "zdr", allowed_regions: "us, eu", other: "1" }),
    ).toEqual({ routing_mode: "sla_aware", sla_tier: "flex", privacy_tier: "zdr", allowed_regions: ["us", "eu"] });
  });

  it("refuses an unknown routing value, naming the metadata key", () => {
    for (const [key, value] of [
      ["sla_tier", "fast"],
      ["routing_mode", "random"],
      ["allowed_regions", "us,mars"],
    ] as const) {
      const err = (() => {
        try {
          routingFromMetadata({ [key]: value });
        } catch (e) {
          return e;
        }
      })();
      expect(isAppError(err) && err.code).toBe("invalid_request");
      expect((err as { details: { errors: { path: string }[] } }).details.errors[0]!.path).toBe(`/metadata/${key}`);
    }
  });

  it("checks each line's url (and body shape) against the batch's endpoint", () => {
    expect(lineEndpointProblem({ url: "/v1/chat/completions", body: { messages: [] } }, "/v1/chat/completions")).toBeUndefined();
    expect(lineEndpointProblem({ url: "/v1/responses", body: { input: "x" } }, "/v1/chat/completions")).toContain("differs");
    expect(lineEndpointProblem({ url: "/v1/chat/completions", body: { input: "x" } }, "/v1/chat/completions")).toContain("messages");
    expect(lineEndpointProblem({ url: "/v1/responses", body: { messages: [] } }, "/v1/responses")).toContain("input");
    expect(lineEndpointProblem({ url: "/v1/embeddings", body: { input: ["a"] } }, "/v1/embeddings")).toBeUndefined();
  });

  it("takes only the 24h window and the four endpoints", () => {
    const ok = { input_file_id: "file_1", endpoint: "/v1/embeddings", completion_window: "24h" };
    expect(openAiCreateBatchSchema.safeParse(ok).success).toBe(true);
    expect(openAiCreateBatchSchema.safeParse({ ...ok, completion_window: "48h" }).success).toBe(false);
    expect(openAiCreateBatchSchema.safeParse({ ...ok, endpoint: "/v1/completions" }).success).toBe(true);
    expect(openAiCreateBatchSchema.safeParse({ ...ok, endpoint: "/v1/moderations" }).success).toBe(false);
    expect(openAiCreateBatchSchema.safeParse({ ...ok, metadata: null }).success).toBe(true);
  });
});
