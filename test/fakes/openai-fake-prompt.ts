/**
 * Reading a request the way the fake "model" needs it: the prompt text, token estimates (ceil(chars
 * / 4)), the token cap, declared tools, and the failure triggers written into prompts. Split from
 * openai-fake-bodies.ts, which turns this into response bodies.
 */
import { errorBody, isObject, type OpenAiErrorBody } from "./openai-fake-util.js";

/** A per-request result: an HTTP answer (any status), or no response at all (batch `error` field). */
export type Outcome =
  | { kind: "response"; statusCode: number; body: unknown; usage?: { input: number; output: number } }
  | { kind: "error"; code: string; message: string };

export type IdFn = (prefix: string) => string;
export const REALTIME_ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"] as const;

export const tokensOf = (chars: number): number => Math.ceil(chars / 4);
const ECHO_CHARS = 40;

/** All text of a message `content`: a string, or content parts with `text` (text / input_text). */
function partsText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p) => (isObject(p) && typeof p.text === "string" ? p.text : "")).join("");
}

export interface Prompt {
  all: string;
  lastUser: string;
}

/** The prompt text of a request for `endpoint`; null when the endpoint is not one the fake models. */
export function promptOf(endpoint: string, body: Record<string, unknown>): Prompt | null {
  if (endpoint === "/v1/chat/completions") {
    const msgs = Array.isArray(body.messages) ? body.messages.filter(isObject) : [];
    const texts = msgs.map((m) => partsText(m.content));
    const lastUser = [...msgs].reverse().find((m) => m.role === "user");
    return { all: texts.join("\n"), lastUser: lastUser ? partsText(lastUser.content) : "" };
  }
  if (endpoint === "/v1/responses") {
    const instr = typeof body.instructions === "string" ? body.instructions : "";
    if (typeof body.input === "string") return { all: [instr, body.input].filter(Boolean).join("\n"), lastUser: body.input };
    const items = Array.isArray(body.input) ? body.input.filter(isObject) : [];
    const lastUser = [...items].reverse().find((m) => (m.role ?? "user") === "user");
    return {
      all: [instr, ...items.map((m) => partsText(m.content))].filter(Boolean).join("\n"),
      lastUser: lastUser ? partsText(lastUser.content) : "",
    };
  }
  if (endpoint === "/v1/embeddings") {
    const inputs = embeddingInputs(body.input);
    const text = inputs.map((x) => (typeof x === "string" ? x : "")).join("\n");
    return { all: text, lastUser: text };
  }
  return null;
}

/** Embedding inputs: a string, an array of strings, a token array, or an array of token arrays. */
export function embeddingInputs(input: unknown): Array<string | number[]> {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return [];
  if (input.every((x) => typeof x === "number")) return [input as number[]];
  return input.filter((x): x is string | number[] => typeof x === "string" || Array.isArray(x));
}

/** How many embedding inputs a request carries (OpenAI caps a batch at 50,000 of them in all). */
export const embeddingInputCount = (body: Record<string, unknown>): number => embeddingInputs(body.input).length;

/** Input tokens a request will use: what the enqueued-token limit counts at batch create. */
export function estimateInputTokens(endpoint: string, body: Record<string, unknown>): number {
  if (endpoint === "/v1/embeddings") return embeddingTokens(embeddingInputs(body.input));
  return tokensOf(promptOf(endpoint, body)?.all.length ?? 0);
}

export const embeddingTokens = (inputs: Array<string | number[]>): number =>
  inputs.reduce((n, x) => n + (typeof x === "string" ? tokensOf(x.length) : x.length), 0);

export const errorResponse = (statusCode: number, body: OpenAiErrorBody): Outcome => ({ kind: "response", statusCode, body });

/** The triggered failure, if the prompt asks for one. */
export function triggeredFailure(text: string): Outcome | null {
  if (text.includes("[fail:400]"))
    return errorResponse(
      400,
      errorBody("Invalid request: the prompt asked the fake to fail with [fail:400].", "invalid_request_error", null, null),
    );
  if (text.includes("[fail:500]"))
    return errorResponse(
      500,
      errorBody("The server had an error while processing your request. Sorry about that!", "server_error", null, null),
    );
  if (text.includes("[fail:content_policy]"))
    return errorResponse(
      400,
      errorBody(
        "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
        "invalid_request_error",
        "prompt",
        "content_policy_violation",
      ),
    );
  if (text.includes("[fail:timeout]")) return { kind: "error", code: "request_timeout", message: "The request timed out." };
  return null;
}

/** A positive-integer token cap from the first of `names` present, or a 400 outcome. */
export function tokenCap(body: Record<string, unknown>, names: string[]): number | Outcome | null {
  for (const name of names) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
      return errorResponse(
        400,
        errorBody(
          `Invalid '${name}': integer below minimum value. Expected a value >= 1.`,
          "invalid_request_error",
          name,
          "integer_below_min_value",
        ),
      );
    return v;
  }
  return null;
}

/** Declared function-tool names (chat nests them under `function`, responses flattens them). */
function toolNames(body: Record<string, unknown>): string[] {
  if (!Array.isArray(body.tools)) return [];
  return body.tools.filter(isObject).flatMap((t) => {
    const fn = isObject(t.function) ? t.function : t;
    return t.type === "function" && typeof fn.name === "string" ? [fn.name] : [];
  });
}

/** `[call:NAME]` in the prompt, when NAME is a declared tool: a model only calls tools it was given. */
export function requestedTool(body: Record<string, unknown>, text: string): string | null {
  const names = toolNames(body);
  for (const m of text.matchAll(/\[call:([A-Za-z0-9_-]{1,64})\]/g)) if (m[1] && names.includes(m[1])) return m[1];
  return null;
}

/** The deterministic answer text, cut to `cap` tokens (4 chars each) when it would exceed it. */
export function echo(lastUser: string, cap: number | null): { text: string; tokens: number; truncated: boolean } {
  const full = `echo: ${lastUser.slice(0, ECHO_CHARS)}`;
  if (cap !== null && tokensOf(full.length) > cap) return { text: full.slice(0, cap * 4), tokens: cap, truncated: true };
  return { text: full, tokens: tokensOf(full.length), truncated: false };
}

export function toolArguments(prompt: Prompt): string {
  return JSON.stringify({
    input: prompt.lastUser
      .replace(/\[call:[^\]]*\]/g, "")
      .trim()
      .slice(0, ECHO_CHARS),
  });
}
