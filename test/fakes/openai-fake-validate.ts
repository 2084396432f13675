/**
 * Validation of a batch input file, as OpenAI does it while a batch is `validating`. Problems are not
 * an HTTP error at create: the batch goes `validating → failed` and `errors.data[]` names each problem
 * with its 1-based `line`. Codes are the ones OpenAI documents for batch errors (`invalid_json_line`,
 * `duplicate_custom_id`, `url_mismatch`, `model_mismatch`, `empty_file`, `too_many_tasks`); a missing
 * field uses the API-wide `missing_required_parameter`, a wrong method `invalid_value`.
 */
import { embeddingInputCount } from "./openai-fake-bodies.js";
import { badRequest, isObject } from "./openai-fake-util.js";

/** One entry of a batch's `errors.data` (openai `BatchError`). */
export interface BatchErrorWire {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A valid input line: what the fake will "run". */
export interface BatchLine {
  line: number;
  custom_id: string;
  body: Record<string, unknown>;
}

export interface Validation {
  lines: BatchLine[];
  errors: BatchErrorWire[];
  model: string | null;
}

export interface ValidationLimits {
  maxLines: number;
  maxEmbeddingInputs: number;
}

/** Upstream lists many line errors at once; a cap keeps a hopeless file's batch object readable. */
const MAX_ERRORS = 1000;

const missing = (param: string, line: number): BatchErrorWire => ({
  code: "missing_required_parameter",
  message: `Missing required parameter: '${param}'.`,
  param,
  line,
});

/** The first problem of one parsed line, or null when the line is usable. */
function lineProblem(v: unknown, line: number, endpoint: string): BatchErrorWire | null {
  if (!isObject(v)) return { code: "invalid_json_line", message: "This line is not parseable as valid JSON.", param: null, line };
  if (typeof v.custom_id !== "string" || v.custom_id === "") return missing("custom_id", line);
  if (v.method === undefined) return missing("method", line);
  if (v.method !== "POST")
    return { code: "invalid_value", message: "Invalid value for 'method': only 'POST' is supported.", param: "method", line };
  if (v.url === undefined) return missing("url", line);
  if (v.url !== endpoint)
    return {
      code: "url_mismatch",
      message: `The URL provided for this request does not match the batch endpoint ('${endpoint}').`,
      param: "url",
      line,
    };
  if (!isObject(v.body)) return missing("body", line);
  if (typeof v.body.model !== "string" || v.body.model === "") return missing("body.model", line);
  return null;
}

export function validateInput(content: Buffer, endpoint: string, limits: ValidationLimits): Validation {
  const rows = content
    .toString("utf8")
    .split("\n")
    .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  // A final newline (or trailing blank lines) is not a request; a blank line in the middle is an error.
  while (rows.length && rows.at(-1)?.trim() === "") rows.pop();
  if (rows.length === 0)
    return { lines: [], model: null, errors: [{ code: "empty_file", message: "The batch input file is empty.", param: null, line: null }] };
  if (rows.length > limits.maxLines) {
    const message = `The batch input file contains ${rows.length} requests, more than the maximum of ${limits.maxLines} requests per batch.`;
    return { lines: [], model: null, errors: [{ code: "too_many_tasks", message, param: null, line: null }] };
  }
  const lines: BatchLine[] = [];
  const errors: BatchErrorWire[] = [];
  const seen = new Set<string>();
  let model: string | null = null;
  rows.forEach((text, i) => {
    const line = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    let problem = lineProblem(parsed, line, endpoint);
    if (!problem) {
      const v = parsed as { custom_id: string; body: Record<string, unknown> & { model: string } };
      if (seen.has(v.custom_id))
        problem = {
          code: "duplicate_custom_id",
          message: `The custom_id '${v.custom_id}' is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.`,
          param: "custom_id",
          line,
        };
      else if (model !== null && v.body.model !== model)
        problem = {
          code: "model_mismatch",
          message: `The provided model '${v.body.model}' does not match the model of the other requests in this batch ('${model}'). A batch must use a single model.`,
          param: "body.model",
          line,
        };
      seen.add(v.custom_id);
      model ??= v.body.model;
      if (!problem) lines.push({ line, custom_id: v.custom_id, body: v.body });
    }
    if (problem && errors.length < MAX_ERRORS) errors.push(problem);
  });
  if (errors.length === 0 && endpoint === "/v1/embeddings") {
    const inputs = lines.reduce((n, l) => n + embeddingInputCount(l.body), 0);
    if (inputs > limits.maxEmbeddingInputs)
      errors.push({
        code: "too_many_tasks",
        message: `The batch contains ${inputs} embedding inputs, more than the maximum of ${limits.maxEmbeddingInputs} across all requests.`,
        param: null,
        line: null,
      });
  }
  return { lines, errors, model };
}

// Parameter checks of POST /v1/batches: these, unlike the file's content, are a 400 at create.

/** Metadata: at most 16 pairs, keys ≤ 64 chars, string values ≤ 512 chars. */
export function checkMetadata(m: unknown): void {
  if (m === undefined || m === null) return;
  const ok =
    isObject(m) &&
    Object.keys(m).length <= 16 &&
    Object.entries(m).every(([k, v]) => k.length <= 64 && typeof v === "string" && v.length <= 512);
  if (!ok)
    throw badRequest(
      "Invalid 'metadata': at most 16 string values, keys up to 64 and values up to 512 characters.",
      "metadata",
      "invalid_value",
    );
}

export function checkOutputExpiry(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    !isObject(v) ||
    v.anchor !== "created_at" ||
    typeof v.seconds !== "number" ||
    !Number.isInteger(v.seconds) ||
    v.seconds < 3600 ||
    v.seconds > 2_592_000
  )
    throw badRequest(
      "Invalid 'output_expires_after': anchor must be 'created_at' and seconds between 3600 and 2592000.",
      "output_expires_after",
      "invalid_value",
    );
  return v.seconds;
}
