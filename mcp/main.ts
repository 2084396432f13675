import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { HttpPlatform } from "./http-client.js";
import { environmentOfKey } from "./platform.js";
import { buildMcpServer } from "./server.js";

const DEFAULT_BASE_URL = "http://127.0.0.1:8080";

// stdout carries the protocol; everything for people goes to stderr.
const say = (line: string) => process.stderr.write(`batchrouter-mcp: ${line}\n`);

/**
 * The `batchrouter-mcp` command: MCP over stdio on the agent's machine, reaching BatchRouter over
 * HTTP at BATCHROUTER_BASE_URL with BATCHROUTER_API_KEY (or, without one, with the test key that
 * register_agent signs up for).
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const baseUrl = env.BATCHROUTER_BASE_URL?.trim() || DEFAULT_BASE_URL;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    say(`BATCHROUTER_BASE_URL must be an http(s) URL, got "${baseUrl}".`);
    process.exit(2);
  }
  const key = env.BATCHROUTER_API_KEY?.trim() || undefined;
  const platform = new HttpPlatform(baseUrl, key);
  const server = buildMcpServer(platform, {
    onInternalError: (err, tool) => say(`${tool} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  });
  const transport = new StdioServerTransport();
  // The client closing our stdin is the end of the session.
  process.stdin.on("end", () => void server.close().finally(() => process.exit(0)));
  await server.connect(transport);
  say(`serving ${baseUrl} over stdio (${key ? `${environmentOfKey(key)} key` : "no key yet: call register_agent"})`);
}

main().catch((err) => {
  say(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
