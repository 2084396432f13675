/**
 * OpenAI's legacy `/v1/completions` batch lines as native items, and their results in the
 * `text_completion` shape. The native item is chat-shaped, so a prompt becomes the one user message;
 * what a single chat answer can't reproduce (several prompts or choices, echo, suffix, best_of,
 * logprobs, streaming) is refused by line rather than dropped.
 */

type Json = Record<string, unknown>;

export const COMPLETIONS_ENDPOINT = "/v1/completions";

/** Item metadata that marks a completions item, so its result is rendered as a text_completion. */
export const COMPLETIONS_MARK = { openai_endpoint: COMPLETIONS_ENDPOINT } as const;

/** OpenAI's default cap for a completion (the chat endpoints have none). */
const DEFAULT_MAX_TOKENS = 16;

/** Parameters a chat request takes with the same meaning, carried in the item's input as they are. */
const CARRIED = new Set([
  "model",
  "prompt",
  "max_tokens",
  "temperature",
  "top_p",
  "stop",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "logit_bias",
  "user",
]);

/** Parameters accepted only at the value that changes nothing. */
const ONLY_DEFAULT: Record<string, unknown[]> = {
  n: [1],
  best_of: [1],
  echo: [false],
  stream: [false],
  logprobs: [null],
  suffix: [null, ""],
  stream_options: [null],
};

/** The one prompt of a body: a string, or an array holding exactly one string. */
function promptOf(prompt: unknown): string | undefined {
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") return prompt[0];
  return undefined;
}

/** What in a completions body the native item can't carry, with paths relative to the body. */
export function completionsProblems(body: Json): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  if (promptOf(body.prompt) === undefined) {
    problems.push({
      path: ["prompt"],
      message:
        "a /v1/completions body needs `prompt`: one string (or an array of one string); token arrays and several prompts per request are not supported",
    });
  }
  for (const k of Object.keys(body)) {
    if (CARRIED.has(k)) continue;
    const allowed = ONLY_DEFAULT[k];
    if (allowed?.includes(body[k] ?? null)) continue;
    problems.push({
      path: [k],
      message: allowed
        ? `\`${k}\` is supported only as ${JSON.stringify(allowed[0])}: one request gives one completion here`
        : `\`${k}\` is not supported for /v1/completions`,
    });
  }
  return problems;
}

/** A checked completions line as a native item: the prompt as the user's message, max_tokens (default 16) as the cap. */
export function completionsItem(customId: string, body: Json) {
  const input: Json = { messages: [{ role: "user", content: promptOf(body.prompt) ?? "" }] };
  for (const k of Object.keys(body)) if (CARRIED.has(k) && k !== "model" && k !== "prompt" && k !== "max_tokens") input[k] = body[k];
  return {
    customer_item_id: customId,
    operation: "responses" as const,
    model: body.model as string,
    input,
    metadata: { ...COMPLETIONS_MARK },
    max_output_tokens: typeof body.max_tokens === "number" ? body.max_tokens : DEFAULT_MAX_TOKENS,
  };
}

export const isCompletionsItem = (metadata: unknown): boolean =>
  typeof metadata === "object" && metadata !== null && (metadata as Json).openai_endpoint === COMPLETIONS_ENDPOINT;

/** Our finish reasons as a completion's (a completion can't end in a tool call). */
const FINISH: Record<string, string> = { stop: "stop", length: "length", content_filter: "content_filter" };

/** The body /v1/completions would have answered. */
export function completionBody(id: string, model: string, out: Json, usage: { input: number; output: number }, created: number) {
  return {
    id: `cmpl-${id}`,
    object: "text_completion",
    created,
    model,
    choices: [
      {
        text: typeof out.text === "string" ? out.text : "",
        index: 0,
        logprobs: null,
        finish_reason: FINISH[String(out.finish_reason)] ?? "stop",
      },
    ],
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
  };
}
