import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CallToolRequestSchema, ErrorCode, McpError, type CallToolResult, type ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { jsonPointer } from "../../server/json-pointer.js";
import { unstorableValue } from "../../server/text-guard.js";
import { PlatformError, type Json, type ToolEnv } from "../platform.js";
import { toolError } from "./errors.js";

export type { ToolEnv };

export interface ToolOutcome {
  /** The structured result; it must match the tool's output schema. */
  data: Json;
  /** One or two sentences for the model: what happened and what to call next. */
  summary: string;
}

export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations?: ToolAnnotations;
  run(args: z.output<I>, env: ToolEnv): Promise<ToolOutcome>;
}

/** Keeps each tool's argument type tied to its input schema where it is written. */
export const defineTool = <I extends z.ZodObject, O extends z.ZodObject>(tool: Tool<I, O>): Tool => tool as unknown as Tool;

/** Issues as the API's `details.errors[] = {path, message}`, with JSON-Pointer paths. */
function invalidArguments(issues: readonly { path: readonly PropertyKey[]; message: string }[]): PlatformError {
  const errors = issues.map((i) => ({ path: jsonPointer(i.path), message: i.message }));
  const first = errors[0]!;
  return new PlatformError("invalid_request", `Invalid arguments: ${first.path === "/" ? "" : `${first.path}: `}${first.message}.`, 400, {
    errors,
  });
}

/** Validates, runs and answers one call; every failure is a tool error, never a thrown one. */
async function handle(tool: Tool, rawArgs: unknown, env: ToolEnv): Promise<CallToolResult> {
  // /mcp reads its own body (no JSON body parser, so no HTTP-edge guard): a NUL or lone surrogate
  // in any string — a metadata value, an id, a cursor — would reach PostgreSQL and fail there as an
  // internal error. One check here covers every tool and both transports. Before the schema, so
  // nesting too deep for a recursive parse is refused first.
  const unstorable = unstorableValue(rawArgs);
  if (unstorable) return toolError(invalidArguments([unstorable]), env, tool.name);
  const args = tool.input.safeParse(rawArgs ?? {});
  if (!args.success) return toolError(invalidArguments(args.error.issues), env, tool.name);
  let outcome: ToolOutcome;
  try {
    outcome = await tool.run(args.data as never, env);
  } catch (err) {
    return toolError(err, env, tool.name);
  }
  // A result that breaks its own schema is our bug: told as internal_error, not a protocol error.
  const checked = tool.output.safeParse(outcome.data);
  if (!checked.success)
    return toolError(new Error(`${tool.name} output does not match its schema: ${checked.error.message}`), env, tool.name);
  // The parsed data, not the raw: the output schemas are the API's exact response schemas (published
  // with additionalProperties: false), so a field they don't know — one a newer server added, reaching
  // an older stdio command — is dropped here rather than failing the client's check of the result.
  const data = checked.data as Json;
  return {
    content: [
      { type: "text", text: outcome.summary },
      { type: "text", text: JSON.stringify(data) },
    ],
    structuredContent: data,
  };
}

/**
 * Registers the tools. A tool's answer carries its data twice: as `structuredContent` (checked
 * against the output schema) and as JSON text after the summary, for clients that read only text.
 * Any failure becomes a tool error (`isError: true`) with our error code and a next step.
 *
 * McpServer lists the tools (with JSON Schemas made from the same zod schemas), but tools/call is
 * answered here: McpServer's own handler reports invalid arguments as bare SDK text without a
 * code, where ours says `invalid_request` with the field paths, as the HTTP API does, and what to
 * do next — one error vocabulary whichever layer caught the mistake.
 */
export function registerTools(server: McpServer, tools: Tool[], env: ToolEnv): void {
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        outputSchema: tool.output,
        annotations: tool.annotations,
      },
      ((args: unknown) => handle(tool, args, env)) as never,
    );
  }
  server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = byName.get(request.params.name);
    // As the protocol says: an unknown tool is a request error, not a tool result.
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool ${request.params.name}; tools/list names them.`);
    return handle(tool, request.params.arguments, env);
  });
}
