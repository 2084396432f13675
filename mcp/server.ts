import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { answerInvalidParams } from "./invalid-params.js";
import type { Platform } from "./platform.js";
import { getAccount, registerAgent } from "./tools/account.js";
import { cancelBatch, getArtifactUrl, getBatchResults, getBatchStatus, listBatches } from "./tools/batches.js";
import { listModels, listWorkflowProducts } from "./tools/catalog.js";
import { registerTools, type Tool, type ToolEnv } from "./tools/define.js";
import { sendFeedback } from "./tools/feedback.js";
import { quoteBatch } from "./tools/quotes.js";
import { submitBatch } from "./tools/submit.js";

export const SERVER_INFO = { name: "batchrouter", title: "BatchRouter", version: "0.1.0" };

/** Every tool, in the order an agent meets them. */
export const TOOLS: Tool[] = [
  registerAgent,
  getAccount,
  listModels,
  listWorkflowProducts,
  quoteBatch,
  submitBatch,
  getBatchStatus,
  listBatches,
  getBatchResults,
  getArtifactUrl,
  cancelBatch,
  sendFeedback,
];

const INSTRUCTIONS = [
  "BatchRouter runs batches of model calls (chat/responses, embeddings, vision) on the cheapest provider lanes that meet your SLA,",
  "privacy and region constraints. The path: register_agent (only if no key is configured) → list_models → quote_batch (free) →",
  "submit_batch → get_batch_status with wait_seconds until done → get_batch_results → send_feedback.",
  "Test keys (br_test_…) are free and run on a simulator; live keys (br_live_…) spend credits on real providers.",
  "Errors come back as tool errors with a code and a next step.",
].join(" ");

/**
 * One MCP server over a platform: the stdio command builds one for its session; /mcp builds a
 * fresh one per HTTP request (stateless), bound to that request's key.
 */
export function buildMcpServer(platform: Platform, opts: Omit<ToolEnv, "platform"> = {}): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  registerTools(server, TOOLS, { platform, ...opts });
  // Last, so it wraps every request handler, the SDK's own (initialize, ping) and ours.
  answerInvalidParams(server.server);
  return server;
}
