import { describe, expect, it } from "vitest";
import type { BatchRow } from "../../../db/queries/batches.js";
import { BATCH_STATUSES } from "../../batches/lifecycle.js";
import { batchErrors, openAiStatus, requestCounts, toOpenAiBatch } from "./batch-object.js";

const t = (s: number) => new Date(s * 1000);

function row(patch: Partial<BatchRow> = {}): BatchRow {
  return {
    id: "bat_1",
    status: "processing",
    input_file_id: "file_1",
    item_count: 5,
    sla_tier: "standard",
    metadata: { project: "x" },
    error: null,
    artifacts: null,
    sla_deadline: t(1000 + 86400),
    created_at: t(1000),
    updated_at: t(1050),
    dispatched_at: t(1001),
    completed_at: null,
    cancelled_at: null,
    failed_at: null,
    expired_at: null,
    ...patch,
  } as BatchRow;
}

const artifacts = { output: { file_id: "file_out" }, errors: { file_id: "file_err" } } as unknown as BatchRow["artifacts"];

describe("the OpenAI batch object", () => {
  it("maps every status of ours onto OpenAI's lifecycle", () => {
    expect(Object.fromEntries(BATCH_STATUSES.map((s) => [s, openAiStatus(s)]))).toEqual({
      validating: "validating",
      pending: "validating",
      queued: "validating",
      routing: "validating",
      dispatched: "in_progress",
      processing: "in_progress",
      completing: "finalizing",
      completed: "completed",
      failed: "failed",
      cancelling: "cancelling",
      cancelled: "cancelled",
      expired: "expired",
    });
  });

  it("counts cancelled and expired requests as failed, since the error file holds them", () => {
    expect(requestCounts(10, { completed: 4, failed: 1, cancelled: 2, expired: 1, queued: 2 })).toEqual({
      total: 10,
      completed: 4,
      failed: 4,
    });
    expect(requestCounts(3, {})).toEqual({ total: 3, completed: 0, failed: 0 });
  });

  it("is in Unix seconds, null until reached, with no files before they exist", () => {
    const b = toOpenAiBatch({
      row: row(),
      counts: { completed: 2, processing: 3 },
      endpoint: "/v1/chat/completions",
      model: "gpt-4o-mini",
      tokens: { input: 20, output: 6 },
    });
    expect(b).toEqual({
      id: "bat_1",
      object: "batch",
      endpoint: "/v1/chat/completions",
      errors: null,
      input_file_id: "file_1",
      completion_window: "24h",
      status: "in_progress",
      output_file_id: null,
      error_file_id: null,
      created_at: 1000,
      in_progress_at: 1001,
      expires_at: 1000 + 86400,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 5, completed: 2, failed: 0 },
      metadata: { project: "x" },
      model: "gpt-4o-mini",
      usage: {
        input_tokens: 20,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 6,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 26,
      },
    });
  });

  it("names the output and error files of an ended batch only when they hold lines", () => {
    const done = row({ status: "completed", completed_at: t(1100), artifacts });
    const all = toOpenAiBatch({ row: done, counts: { completed: 5 }, endpoint: "/v1/responses" });
    expect(all).toMatchObject({
      status: "completed",
      output_file_id: "file_out",
      error_file_id: null,
      completed_at: 1100,
      finalizing_at: 1100,
    });
    const mixed = toOpenAiBatch({ row: done, counts: { completed: 4, failed: 1 }, endpoint: "/v1/responses" });
    expect(mixed).toMatchObject({ output_file_id: "file_out", error_file_id: "file_err" });
  });

  it("stamps cancelling from the cancel request and cancelled from the end", () => {
    const cancelling = toOpenAiBatch({ row: row({ status: "cancelling", cancelled_at: t(1010) }), counts: {}, endpoint: "/v1/embeddings" });
    expect(cancelling).toMatchObject({ status: "cancelling", cancelling_at: 1010, cancelled_at: null });
    const cancelled = toOpenAiBatch({
      row: row({ status: "cancelled", cancelled_at: t(1010), updated_at: t(1020) }),
      counts: { cancelled: 5 },
      endpoint: "/v1/embeddings",
    });
    expect(cancelled).toMatchObject({ status: "cancelled", cancelling_at: 1010, cancelled_at: 1020, finalizing_at: null });
  });

  it("maps tiers to windows and a failed batch's error to OpenAI's errors list", () => {
    const failed = row({
      status: "failed",
      sla_tier: "flex",
      failed_at: t(1200),
      error: { code: "insufficient_credits", message: "No funds." },
    });
    expect(toOpenAiBatch({ row: failed, counts: {}, endpoint: "/v1/responses" })).toMatchObject({
      status: "failed",
      completion_window: "48h",
      failed_at: 1200,
      errors: { object: "list", data: [{ code: "insufficient_credits", message: "No funds.", param: null, line: null }] },
    });
  });

  it("calls a batch whose every request failed completed, as OpenAI does, with its error file", () => {
    const allFailed = row({
      status: "failed",
      failed_at: t(1200),
      artifacts,
      error: { code: "all_items_failed", message: "Every item failed; see the errors file." },
    });
    expect(toOpenAiBatch({ row: allFailed, counts: { failed: 5 }, endpoint: "/v1/responses" })).toMatchObject({
      status: "completed",
      errors: null,
      completed_at: 1200,
      failed_at: null,
      output_file_id: null,
      error_file_id: "file_err",
    });
  });

  it("lists a manifest's bad lines with their numbers", () => {
    const error = {
      code: "preflight_failed",
      message: "bad",
      details: { preflight: [{ line: 3, code: "invalid_json", message: "not JSON" }] },
    };
    expect(batchErrors(error)).toEqual({ object: "list", data: [{ code: "invalid_json", message: "not JSON", param: null, line: 3 }] });
    expect(batchErrors(null)).toBeNull();
  });
});
