import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { fromChatCompletion, fromEmbeddingsResponse, fromResponsesApi } from "./normalized-output.js";
import type { EmbeddingsOutput, ItemError, ItemErrorCode, TextOutput, Usage, WorkUnitItem } from "./types.js";

/**
 * One item as an OpenAI-style request (the batch line's `body`, or a real-time call), and a
 * provider's answer back as our output: shared by the Batch adapter and the real-time adapter.
 */
export type OpenAiUrl = "/v1/chat/completions" | "/v1/responses" | "/v1/embeddings";

/** The endpoint an item goes to: embeddings; chat when it has `messages`; the Responses API when it has `input`. */
export function urlOf(item: WorkUnitItem): OpenAiUrl {
  if (item.operation === "embeddings") return "/v1/embeddings";
  return item.item.input.messages !== undefined ? "/v1/chat/completions" : "/v1/responses";
}

/**
 * The request body: the item's OpenAI-style input as the customer wrote it, the lane's model name,
 * the item's own tools, and its output cap spelled the way the endpoint (and provider) expects.
 */
export function requestBody(
  item: WorkUnitItem,
  url: OpenAiUrl,
  servedAs: string,
  endpoint: Pick<ProviderEndpoint, "kind">,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...item.item.input, model: servedAs };
  if (url === "/v1/embeddings") return body;
  if (item.item.tools?.length) body.tools = [...(Array.isArray(body.tools) ? body.tools : []), ...item.item.tools];
  const cap = item.item.max_output_tokens;
  if (cap !== undefined) {
    if (url === "/v1/responses") body.max_output_tokens ??= cap;
    // OpenAI's own endpoints take max_completion_tokens; OpenAI-compatible servers know max_tokens.
    else if (endpoint.kind === "openai" || endpoint.kind === "azure-openai") {
      if (body.max_tokens === undefined) body.max_completion_tokens ??= cap;
    } else body.max_tokens ??= body.max_completion_tokens ?? cap;
  }
  return body;
}

/** A 2xx answer of `url` → our output and usage. */
export function parseAnswer(url: OpenAiUrl, body: unknown, model: string): { output: TextOutput | EmbeddingsOutput; usage: Usage } {
  if (url === "/v1/embeddings") return fromEmbeddingsResponse(body);
  return url === "/v1/responses" ? fromResponsesApi(body, model) : fromChatCompletion(body, model);
}

/**
 * A provider's per-request error (a non-2xx `status_code` with its error body, or an `error` with a
 * code) → our item error, and whether sending the item again may succeed: 429, 5xx and timeouts.
 */
export function itemErrorOf(status: number | undefined, raw: unknown): { error: ItemError; retryable: boolean } {
  const e = (raw && typeof raw === "object" ? ((raw as { error?: unknown }).error ?? raw) : {}) as {
    code?: unknown;
    type?: unknown;
    message?: unknown;
  };
  const providerCode = typeof e.code === "string" ? e.code : typeof e.type === "string" ? e.type : "";
  const message = typeof e.message === "string" && e.message ? e.message : `the provider answered ${status ?? "an error"}`;
  let code: ItemErrorCode = "provider_error";
  if (status === 429 || providerCode === "rate_limit_exceeded") code = "rate_limited";
  else if (providerCode === "request_timeout" || status === 408) code = "timeout";
  else if (/content_policy|content_filter/.test(providerCode)) code = "content_policy";
  else if (/context_length/.test(providerCode)) code = "context_length_exceeded";
  else if (providerCode === "batch_expired") code = "expired";
  else if (providerCode === "batch_cancelled") code = "cancelled";
  else if (status !== undefined && status >= 400 && status < 500) code = "invalid_input";
  // An item its provider batch expired before running is sent again (on this lane or down the ladder).
  const retryable = code === "rate_limited" || code === "timeout" || code === "expired" || (status !== undefined && status >= 500);
  return { error: { code, message, ...(status !== undefined ? { provider_status: status } : {}) }, retryable };
}
