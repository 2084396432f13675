import { describe, expect, it } from "vitest";
import type { BatchRow } from "../../../db/queries/batches.js";
import { BATCH_STATUSES } from "../../batches/lifecycle.js";
import { AppError } from "../../errors.js";
import type { ResultItem } from "../openai/result-lines.js";
import { processingStatus, requestCounts, toAnthropicBatch } from "./batch-object.js";
import { anthropicRequestSchema, catalogModel, toNativeItem } from "./create-request.js";
import { anthropicErrorBody, anthropicErrorType } from "./errors.js";
import { anthropicResultLine } from "./result-lines.js";

const t = (s: number) => new Date(s * 1000);
const iso = (s: number) => t(s).toISOString();

function row(patch: Partial<BatchRow> = {}): BatchRow {
  return {
    id: "bat_1",
    status: "processing",
    item_count: 5,
    sla_deadline: t(1000 + 86400),
    created_at: t(1000),
    updated_at: t(1050),
    completed_at: null,
    cancelled_at: null,
    failed_at: null,
    expired_at: null,
    ...patch,
  } as BatchRow;
}

describe("the Anthropic batch object", () => {
  it("folds every status of ours onto in_progress, canceling and ended", () => {
    expect(Object.fromEntries(BATCH_STATUSES.map((s) => [s, processingStatus(s)]))).toEqual({
      validating: "in_progress",
      pending: "in_progress",
      queued: "in_progress",
      routing: "in_progress",
      dispatched: "in_progress",
      processing: "in_progress",
      completing: "in_progress",
      completed: "ended",
      failed: "ended",
      cancelling: "canceling",
      cancelled: "ended",
      expired: "ended",
    });
  });

  it("counts unfinished items as processing, so the five add up to the batch", () => {
    expect(requestCounts(10, { completed: 3, failed: 1, cancelled: 2, expired: 1, queued: 2, retry: 1 })).toEqual({
      processing: 3,
      succeeded: 3,
      errored: 1,
      canceled: 2,
      expired: 1,
    });
  });

  it("has RFC 3339 times and no results_url until ended", () => {
    const b = toAnthropicBatch(row(), { queued: 5 }, "https://api.example");
    expect(b).toEqual({
      id: "bat_1",
      type: "message_batch",
      processing_status: "in_progress",
      request_counts: { processing: 5, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      created_at: iso(1000),
      expires_at: iso(1000 + 86400),
      ended_at: null,
      cancel_initiated_at: null,
      archived_at: null,
      results_url: null,
    });
  });

  it("names the end, the cancel request and the absolute results URL once ended", () => {
    const b = toAnthropicBatch(row({ status: "cancelled", cancelled_at: t(1010), updated_at: t(1020) }), { cancelled: 5 }, "http://h:1");
    expect(b).toMatchObject({
      processing_status: "ended",
      cancel_initiated_at: iso(1010),
      ended_at: iso(1020),
      results_url: "http://h:1/v1/anthropic/v1/messages/batches/bat_1/results",
    });
    expect(toAnthropicBatch(row({ status: "completed", completed_at: t(1040) }), { completed: 5 }, "o").ended_at).toBe(iso(1040));
  });
});

const item = (patch: Partial<ResultItem>): ResultItem => ({
  idx: 0,
  customer_item_id: "a",
  operation: "responses",
  item: { model: "claude-haiku-4" },
  status: "completed",
  output: { text: "hello", finish_reason: "stop" },
  error: null,
  input_tokens: 12,
  output_tokens: 3,
  lane_id: "anthropic/claude-haiku-4/us/batch",
  finished_at: t(1100),
  ...patch,
});

describe("Anthropic result lines", () => {
  it("renders a completed item as a succeeded Message with usage", () => {
    const line = anthropicResultLine("bat_1", item({}));
    expect(line).toEqual({
      custom_id: "a",
      result: {
        type: "succeeded",
        message: {
          id: expect.stringMatching(/^msg_[0-9a-f]{24}$/),
          type: "message",
          role: "assistant",
          model: "claude-haiku-4",
          content: [{ type: "text", text: "hello" }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: { input_tokens: 12, output_tokens: 3 },
        },
      },
    });
    expect(anthropicResultLine("bat_1", item({}))).toEqual(line); // stable ids
  });

  it("maps stop reasons and tool calls onto Anthropic's", () => {
    const out = {
      text: "",
      finish_reason: "tool_calls",
      tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"x":1}' } }],
    };
    const line = anthropicResultLine("bat_1", item({ output: out }));
    if (line.result.type !== "succeeded") throw new Error("expected succeeded");
    expect(line.result.message.stop_reason).toBe("tool_use");
    expect(line.result.message.content).toEqual([{ type: "tool_use", id: "call_1", name: "f", input: { x: 1 } }]);
    const long = anthropicResultLine("bat_1", item({ output: { text: "x", finish_reason: "length" } }));
    expect(long.result).toMatchObject({ message: { stop_reason: "max_tokens" } });
  });

  it("renders failures as errored with a status-derived type, and unrun items as canceled or expired", () => {
    expect(anthropicResultLine("b", item({ status: "failed", error: { code: "invalid_input", message: "bad" } })).result).toEqual({
      type: "errored",
      error: { type: "error", error: { type: "invalid_request_error", message: "bad" } },
    });
    expect(anthropicResultLine("b", item({ status: "failed", error: { code: "provider_error", message: "boom" } })).result).toMatchObject({
      error: { error: { type: "api_error" } },
    });
    expect(anthropicResultLine("b", item({ status: "cancelled" })).result).toEqual({ type: "canceled" });
    expect(anthropicResultLine("b", item({ status: "expired" })).result).toEqual({ type: "expired" });
  });
});

describe("Anthropic create requests", () => {
  const known = new Set(["claude-haiku-4", "claude-sonnet-4", "gpt-4o-mini"]);

  it("maps Anthropic model names onto catalog slugs, keeping ours", () => {
    expect(catalogModel("claude-haiku-4", known)).toBe("claude-haiku-4");
    expect(catalogModel("gpt-4o-mini", known)).toBe("gpt-4o-mini");
    expect(catalogModel("claude-3-5-haiku-20241022", known)).toBe("claude-haiku-4");
    expect(catalogModel("claude-sonnet-4-5", known)).toBe("claude-sonnet-4");
    expect(catalogModel("claude-opus-4-1", known)).toBe("claude-opus-4-1"); // not in the catalog: refused later
  });

  it("turns params into a native chat item, the system prompt leading", () => {
    const params = {
      model: "claude-haiku-4-5",
      max_tokens: 50,
      system: [{ type: "text" as const, text: "Be brief." }],
      messages: [{ role: "user" as const, content: "hi" }],
      stop_sequences: ["END"],
    };
    expect(toNativeItem({ custom_id: "r1", params }, known)).toEqual({
      customer_item_id: "r1",
      operation: "responses",
      model: "claude-haiku-4",
      input: {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hi" },
        ],
        max_tokens: 50,
        stop: ["END"],
      },
      max_output_tokens: 50,
    });
  });

  it("turns Anthropic's custom tools and tool_choice into function tools", () => {
    const params = {
      model: "claude-haiku-4",
      max_tokens: 10,
      messages: [{ role: "user" as const, content: "hi" }],
      tools: [{ name: "lookup", description: "Finds it.", input_schema: { type: "object", properties: {} } }],
      tool_choice: { type: "tool", name: "lookup" },
    };
    expect(toNativeItem({ custom_id: "r", params }, known).input).toMatchObject({
      tools: [{ type: "function", function: { name: "lookup", description: "Finds it.", parameters: { type: "object", properties: {} } } }],
      tool_choice: { type: "function", function: { name: "lookup" } },
    });
    expect(toNativeItem({ custom_id: "r", params: { ...params, tool_choice: { type: "any" } } }, known).input.tool_choice).toBe("required");
  });

  it("refuses bad custom_ids and a missing max_tokens", () => {
    const ok = { custom_id: "a", params: { model: "m", max_tokens: 1, messages: [{ role: "user", content: "x" }] } };
    expect(anthropicRequestSchema.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, custom_id: "has space" },
      { ...ok, params: { ...ok.params, max_tokens: undefined } },
      { ...ok, extra: 1 },
    ]) {
      expect(anthropicRequestSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe("Anthropic error envelope", () => {
  it("names Anthropic's error types by status", () => {
    expect([400, 401, 403, 404, 409, 429, 500, 503].map(anthropicErrorType)).toEqual([
      "invalid_request_error",
      "authentication_error",
      "permission_error",
      "not_found_error",
      "invalid_request_error",
      "rate_limit_error",
      "api_error",
      "api_error",
    ]);
    expect(anthropicErrorBody(new AppError("not_found", "No such batch."))).toEqual({
      type: "error",
      error: { type: "not_found_error", message: "No such batch." },
    });
  });
});
