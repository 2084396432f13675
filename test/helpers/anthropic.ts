import http from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import { expect } from "vitest";
import { call, waitFor } from "./server.js";

// The Anthropic-compatible surface driven through the official SDK: what its test files share.

export const anthropicSdk = (base: string, apiKey: string) => new Anthropic({ apiKey, baseURL: `${base}/v1/anthropic`, maxRetries: 0 });

/** One request of a create: a short classification on claude-haiku-4 unless told. */
export const batchRequest = (custom_id: string, model = "claude-haiku-4"): Anthropic.Messages.BatchCreateParams.Request => ({
  custom_id,
  params: { model, max_tokens: 40, system: "You label tickets.", messages: [{ role: "user", content: `Classify ticket ${custom_id}` }] },
});

export const untilBatchEnded = (client: Anthropic, id: string) =>
  waitFor(
    async () => {
      const b = await client.messages.batches.retrieve(id);
      return b.processing_status === "ended" ? b : undefined;
    },
    30_000,
    `batch ${id} to end`,
    100,
  );

// Every field of the SDK's type, checked by the compiler: a field the SDK adds or renames fails to typecheck here.
const BATCH_FIELDS: Record<keyof Anthropic.Messages.MessageBatch, true> = {
  id: true,
  type: true,
  processing_status: true,
  request_counts: true,
  created_at: true,
  expires_at: true,
  ended_at: true,
  cancel_initiated_at: true,
  archived_at: true,
  results_url: true,
};

export function expectBatchShape(b: Anthropic.Messages.MessageBatch) {
  expect(Object.keys(b).sort()).toEqual(Object.keys(BATCH_FIELDS).sort());
  expect(b.type).toBe("message_batch");
  expect(b.id).toMatch(/^bat_/);
  for (const t of [b.created_at, b.expires_at]) expect(new Date(t).toISOString()).toBe(t);
  expect(Object.keys(b.request_counts).sort()).toEqual(["canceled", "errored", "expired", "processing", "succeeded"]);
}

/** The input files the Anthropic creates stored (one per batch created on this surface). */
export async function anthropicInputFiles(base: string, key: string): Promise<number> {
  const files = await call(base, "GET", "/v1/files?limit=100", { key });
  return files.body.data.filter((f: { filename: string }) => f.filename === "anthropic-message-batch.jsonl").length;
}

/** A POST whose headers promise a body that is never sent: the answer must come from the headers alone. */
export function rawPost(
  base: string,
  key: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json", ...headers },
      },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.flushHeaders();
  });
}
