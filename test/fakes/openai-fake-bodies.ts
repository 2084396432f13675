/**
 * What the fake "model" answers. One function, `answerRequest`, serves both the real-time endpoints
 * and each line of a batch, so a batch output body is byte-for-byte the shape a synchronous call
 * returns (that is what OpenAI promises, and what lets one adapter parser serve both lanes).
 *
 * Everything is deterministic from the request, so tests can assert exact content and usage:
 * * content: `echo: <first 40 chars of the last user message>`;
 * * tokens: ceil(chars / 4) of all prompt text in, of the produced text out;
 * * embeddings: a unit vector seeded by (model, text), float32-rounded so the float and base64
 *   encodings decode to the same numbers.
 * Triggers in the prompt text: `[fail:400]`, `[fail:500]`, `[fail:content_policy]`, `[fail:timeout]`
 * (a `request_timeout` error with no response, as batch error files carry), and `[call:NAME]` (a tool
 * call to NAME when the request declares a function tool of that name). On the real-time endpoints a
 * no-response outcome (`[fail:timeout]`) is answered 504. Reading the request (prompt text, caps,
 * tools, triggers) is in openai-fake-prompt.ts.
 */
import {
  type IdFn,
  type Outcome,
  type Prompt,
  echo,
  embeddingInputs,
  embeddingTokens,
  errorResponse,
  promptOf,
  requestedTool,
  tokenCap,
  tokensOf,
  toolArguments,
  triggeredFailure,
} from "./openai-fake-prompt.js";
import { errorBody, hash32, nowSec, seededRng } from "./openai-fake-util.js";

export type { IdFn, Outcome } from "./openai-fake-prompt.js";
export { embeddingInputCount, estimateInputTokens, REALTIME_ENDPOINTS } from "./openai-fake-prompt.js";

/**
 * Answers one request to `endpoint`, as the real API would synchronously. `ids` mints the object ids
 * (chatcmpl-, resp_, msg_, call_, fc_).
 */
export function answerRequest(endpoint: string, body: Record<string, unknown>, ids: IdFn): Outcome {
  if (typeof body.model !== "string" || body.model === "")
    return errorResponse(
      400,
      errorBody("Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter"),
    );
  const prompt = promptOf(endpoint, body);
  if (!prompt) return errorResponse(404, errorBody(`Invalid URL (POST ${endpoint})`, "invalid_request_error", null, null));
  const missing =
    endpoint === "/v1/chat/completions"
      ? Array.isArray(body.messages) && body.messages.length
        ? null
        : "messages"
      : body.input === undefined
        ? "input"
        : null;
  if (missing)
    return errorResponse(
      400,
      errorBody(`Missing required parameter: '${missing}'.`, "invalid_request_error", missing, "missing_required_parameter"),
    );
  const failure = triggeredFailure(prompt.all);
  if (failure) return failure;
  if (endpoint === "/v1/embeddings") return embeddings(body);
  const inputTokens = tokensOf(prompt.all.length);
  const cap = tokenCap(body, endpoint === "/v1/responses" ? ["max_output_tokens"] : ["max_completion_tokens", "max_tokens"]);
  if (cap !== null && typeof cap === "object") return cap;
  const tool = requestedTool(body, prompt.all);
  return endpoint === "/v1/responses"
    ? response(body, prompt, inputTokens, cap, tool, ids)
    : chatCompletion(body, prompt, inputTokens, cap, tool, ids);
}

function chatCompletion(
  body: Record<string, unknown>,
  prompt: Prompt,
  inputTokens: number,
  cap: number | null,
  tool: string | null,
  ids: IdFn,
): Outcome {
  let message: Record<string, unknown>;
  let finish: string;
  let outTokens: number;
  if (tool) {
    const args = toolArguments(prompt);
    outTokens = tokensOf(tool.length + args.length);
    message = {
      role: "assistant",
      content: null,
      refusal: null,
      annotations: [],
      tool_calls: [{ id: ids("call_"), type: "function", function: { name: tool, arguments: args } }],
    };
    finish = "tool_calls";
  } else {
    const e = echo(prompt.lastUser, cap);
    outTokens = e.tokens;
    message = { role: "assistant", content: e.text, refusal: null, annotations: [] };
    finish = e.truncated ? "length" : "stop";
  }
  const out = {
    id: ids("chatcmpl-"),
    object: "chat.completion",
    created: nowSec(),
    model: body.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: {
      prompt_tokens: inputTokens,
      completion_tokens: outTokens,
      total_tokens: inputTokens + outTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: "default",
    system_fingerprint: "fp_fake",
  };
  return { kind: "response", statusCode: 200, body: out, usage: { input: inputTokens, output: outTokens } };
}

function response(
  body: Record<string, unknown>,
  prompt: Prompt,
  inputTokens: number,
  cap: number | null,
  tool: string | null,
  ids: IdFn,
): Outcome {
  const created = nowSec();
  let item: Record<string, unknown>;
  let outTokens: number;
  let truncated = false;
  if (tool) {
    const args = toolArguments(prompt);
    outTokens = tokensOf(tool.length + args.length);
    item = { type: "function_call", id: ids("fc_"), call_id: ids("call_"), name: tool, arguments: args, status: "completed" };
  } else {
    const e = echo(prompt.lastUser, cap);
    outTokens = e.tokens;
    truncated = e.truncated;
    const content = [{ type: "output_text", text: e.text, annotations: [], logprobs: [] }];
    item = { type: "message", id: ids("msg_"), status: truncated ? "incomplete" : "completed", role: "assistant", content };
  }
  const out = {
    id: ids("resp_"),
    object: "response",
    created_at: created,
    status: truncated ? "incomplete" : "completed",
    completed_at: truncated ? null : created,
    background: false,
    error: null,
    incomplete_details: truncated ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: body.model,
    output: [item],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outTokens,
    },
    user: null,
  };
  return { kind: "response", statusCode: 200, body: out, usage: { input: inputTokens, output: outTokens } };
}

/** A unit vector seeded by (model, input), each component float32-rounded. */
function vector(model: string, input: string | number[], dims: number): number[] {
  const rnd = seededRng(hash32(`${model}\u0000${typeof input === "string" ? input : input.join(",")}`));
  const v = Array.from({ length: dims }, () => rnd() * 2 - 1);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

function embeddings(body: Record<string, unknown>): Outcome {
  const inputs = embeddingInputs(body.input);
  if (inputs.length === 0)
    return errorResponse(400, errorBody("'$.input' is invalid. Please check the API reference.", "invalid_request_error", "input", null));
  const dims = body.dimensions ?? 8;
  if (typeof dims !== "number" || !Number.isInteger(dims) || dims < 1)
    return errorResponse(
      400,
      errorBody("Invalid 'dimensions': expected an integer >= 1.", "invalid_request_error", "dimensions", "integer_below_min_value"),
    );
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64")
    return errorResponse(
      400,
      errorBody("Invalid 'encoding_format': expected 'float' or 'base64'.", "invalid_request_error", "encoding_format", "invalid_value"),
    );
  const model = body.model as string;
  // The SDK asks for base64 by default and decodes it as little-endian float32.
  const encode = (v: number[]) => (format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v);
  const data = inputs.map((x, index) => ({ object: "embedding", index, embedding: encode(vector(model, x, dims)) }));
  const tokens = embeddingTokens(inputs);
  return {
    kind: "response",
    statusCode: 200,
    body: { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } },
    usage: { input: tokens, output: 0 },
  };
}
