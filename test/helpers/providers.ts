import { type AnthropicFake, startAnthropicFake } from "../fakes/anthropic-fake.js";
import { type OpenAiFake, startOpenAiFake } from "../fakes/openai-fake.js";

/**
 * Loopback fakes of OpenAI's and Anthropic's APIs, configured as the server's `openai` and
 * `anthropic` providers: live keys then have real lanes (OpenAI's batch and real-time lanes of
 * gpt-4o-mini, embeddings…; Anthropic's of claude-haiku-4 and claude-sonnet-4) and their work goes
 * through the real adapters and protocols — never the simulator, which only test keys get.
 */
export interface LiveProviders {
  openai: OpenAiFake;
  anthropic: AnthropicFake;
  /** The environment that points the server at both fakes. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function liveProviders(opts: { turnaroundMs?: number } = {}): Promise<LiveProviders> {
  const openaiKey = "sk-live-fake-openai-0123456789";
  const anthropicKey = "sk-ant-live-fake-0123456789";
  const openai = await startOpenAiFake({ apiKey: openaiKey, turnaroundMs: opts.turnaroundMs ?? 30 });
  const anthropic = await startAnthropicFake({ apiKey: anthropicKey, turnaroundMs: opts.turnaroundMs ?? 30 });
  return {
    openai,
    anthropic,
    env: {
      OPENAI_API_KEY: openaiKey,
      OPENAI_BASE_URL: `${openai.baseUrl}/v1`,
      ANTHROPIC_API_KEY: anthropicKey,
      ANTHROPIC_BASE_URL: anthropic.baseUrl,
    },
    async close() {
      await Promise.all([openai.close(), anthropic.close()]);
    },
  };
}
