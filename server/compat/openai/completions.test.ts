import { describe, expect, it } from "vitest";
import { checkItemInput, fromOpenAiBatchLine, itemSchema, openAiBatchLineSchema } from "../../manifest/item-schema.js";
import { completionBody, completionsProblems, isCompletionsItem } from "./completions.js";
import { endpointOf } from "./result-lines.js";

const line = (body: Record<string, unknown>) => ({
  custom_id: "c",
  method: "POST",
  url: "/v1/completions",
  body: { model: "gpt-4o-mini", ...body },
});

describe("legacy completions lines", () => {
  it("become a chat item: the prompt as the user's message, max_tokens (default 16) as the cap, marked as completions", () => {
    const parsed = openAiBatchLineSchema.parse(line({ prompt: ["Once"], max_tokens: 30, temperature: 0.5, stop: "\n", n: 1, echo: false }));
    const item = fromOpenAiBatchLine(parsed);
    expect(item).toEqual({
      customer_item_id: "c",
      operation: "responses",
      model: "gpt-4o-mini",
      input: { messages: [{ role: "user", content: "Once" }], temperature: 0.5, stop: "\n" },
      metadata: { openai_endpoint: "/v1/completions" },
      max_output_tokens: 30,
    });
    expect(checkItemInput(itemSchema.parse(item), "responses")).toEqual([]);
    expect(fromOpenAiBatchLine(openAiBatchLineSchema.parse(line({ prompt: "x" }))).max_output_tokens).toBe(16);
    expect(endpointOf(item.operation!, item.input, item.metadata)).toBe("/v1/completions");
    expect(isCompletionsItem({ openai_endpoint: "/v1/chat/completions" })).toBe(false);
  });

  it("refuse what one chat answer can't give, by field", () => {
    expect(completionsProblems({ model: "m", prompt: ["a", "b"] }).map((p) => p.path)).toEqual([["prompt"]]);
    expect(completionsProblems({ model: "m", prompt: [1, 2] }).map((p) => p.path)).toEqual([["prompt"]]);
    expect(
      completionsProblems({ model: "m", prompt: "a", n: 3, best_of: 2, echo: true, logprobs: 1, suffix: "s", stream: true, foo: 1 }).map(
        (p) => p.path[0],
      ),
    ).toEqual(["n", "best_of", "echo", "logprobs", "suffix", "stream", "foo"]);
    expect(openAiBatchLineSchema.safeParse(line({ prompt: "a", echo: true })).success).toBe(false);
  });

  it("answer in the text_completion shape", () => {
    expect(completionBody("abc", "gpt-4o-mini", { text: "there", finish_reason: "length" }, { input: 3, output: 2 }, 1700000000)).toEqual({
      id: "cmpl-abc",
      object: "text_completion",
      created: 1700000000,
      model: "gpt-4o-mini",
      choices: [{ text: "there", index: 0, logprobs: null, finish_reason: "length" }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
  });
});
