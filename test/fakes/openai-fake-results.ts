/**
 * Running a batch's requests when it ends: each line's answer becomes an output-file line (2xx) or
 * an error-file line (non-2xx with the error body, or `response: null` with an `error` code), in
 * OpenAI's `{id, custom_id, response, error}` envelope. Requests past `finished` never ran: they get
 * `batch_expired` / `batch_cancelled`.
 */
import { answerRequest, type IdFn } from "./openai-fake-bodies.js";
import type { BatchLine } from "./openai-fake-validate.js";

export const UNFINISHED_MESSAGE = {
  batch_expired: "This request could not be executed before the completion window expired.",
  batch_cancelled: "This request was not executed because the batch was cancelled.",
} as const;

export interface LineResults {
  /** Serialised output-file lines, in input order (the caller shuffles). */
  ok: string[];
  /** Serialised error-file lines, in input order. */
  failed: string[];
  /** Tokens of the successful requests only: failed ones are not billed. */
  usage: { input: number; output: number };
}

export function runLines(
  lines: BatchLine[],
  endpoint: string,
  finished: number,
  unfinishedCode: keyof typeof UNFINISHED_MESSAGE,
  ids: IdFn,
): LineResults {
  const ok: string[] = [];
  const failed: string[] = [];
  const usage = { input: 0, output: 0 };
  lines.forEach((l, i) => {
    const envelope = { id: ids("batch_req_"), custom_id: l.custom_id };
    if (i >= finished) {
      failed.push(
        JSON.stringify({ ...envelope, response: null, error: { code: unfinishedCode, message: UNFINISHED_MESSAGE[unfinishedCode] } }),
      );
      return;
    }
    const out = answerRequest(endpoint, l.body, ids);
    if (out.kind === "error") {
      failed.push(JSON.stringify({ ...envelope, response: null, error: { code: out.code, message: out.message } }));
      return;
    }
    const line = JSON.stringify({
      ...envelope,
      response: { status_code: out.statusCode, request_id: ids("req_"), body: out.body },
      error: null,
    });
    if (out.statusCode >= 200 && out.statusCode < 300) {
      ok.push(line);
      usage.input += out.usage?.input ?? 0;
      usage.output += out.usage?.output ?? 0;
    } else failed.push(line);
  });
  return { ok, failed, usage };
}
