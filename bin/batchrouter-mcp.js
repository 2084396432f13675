#!/usr/bin/env node
// The `batchrouter-mcp` command. The server is TypeScript (mcp/main.ts); tsx's loader, a runtime
// dependency, compiles it on the fly, so plain `node`, `npx batchrouter-mcp` and `npm link` all
// work without a build step. Nothing may be printed to stdout here: it carries the MCP protocol.
import { register } from "tsx/esm/api";

register({ tsconfig: new URL("../tsconfig.json", import.meta.url).pathname });
await import(new URL("../mcp/main.ts", import.meta.url).href);
