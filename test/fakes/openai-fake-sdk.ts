/**
 * Test-side helpers for driving the OpenAI fake with the official SDK: build JSONL input, upload it,
 * wait for a batch to end, read a result file. Shared by the fake's own tests and, later, by adapter
 * tests that want to set the fake up the way a customer would.
 */
import OpenAI, { toFile } from "openai";
import type { Batch } from "openai/resources/batches";
import { waitFor } from "../helpers/wait.js";
import type { OpenAiFake } from "./openai-fake.js";

/** A parsed result line; tests assert on its nested fields directly. */
// biome-ignore lint/suspicious/noExplicitAny: result bodies are whatever the endpoint returns
export type Json = any;

export const TERMINAL = ["completed", "failed", "expired", "cancelled"];

/** A client on the fake with retries off, so a fault surfaces as the SDK's typed error at once. */
export function sdkFor(fake: OpenAiFake, apiKey: string, extra: ConstructorParameters<typeof OpenAI>[0] = {}): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${fake.baseUrl}/v1`, maxRetries: 0, ...extra });
}

/** A chat-completions input line for `custom_id` asking `prompt`. */
export function chatLine(
  customId: string,
  prompt: string,
  extra: Record<string, unknown> = {},
  model = "gpt-4o-mini",
): Record<string, unknown> {
  return {
    custom_id: customId,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model, messages: [{ role: "user", content: prompt }], ...extra },
  };
}

export function jsonl(rows: Array<Record<string, unknown> | string>): Buffer {
  return Buffer.from(`${rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n")}\n`);
}

export async function uploadBatchFile(client: OpenAI, rows: Array<Record<string, unknown> | string>, name = "input.jsonl") {
  return client.files.create({ file: await toFile(jsonl(rows), name), purpose: "batch" });
}

/** Polls batches.retrieve until the batch is terminal (statuses compared case-insensitively). */
export async function waitForBatch(client: OpenAI, id: string, timeoutMs = 5000): Promise<Batch> {
  return waitFor(
    async () => {
      const b = await client.batches.retrieve(id);
      return TERMINAL.includes(b.status.toLowerCase()) ? b : undefined;
    },
    timeoutMs,
    `batch ${id} to end`,
    10,
  );
}

/** A result file's lines, raw (so a corrupt line can be seen) and parsed (null where corrupt). */
export async function readResultFile(client: OpenAI, fileId: string): Promise<{ raw: string[]; parsed: Array<Json | null> }> {
  const text = await (await client.files.content(fileId)).text();
  const raw = text.split("\n").filter((l) => l !== "");
  const parsed = raw.map((l) => {
    try {
      return JSON.parse(l) as Json;
    } catch {
      return null;
    }
  });
  return { raw, parsed };
}
