import type { IncomingMessage, ServerResponse } from "node:http";
import type { Db } from "../db/connection.js";
import type { Actor } from "./accounts/actor.js";
import type { CatalogStore } from "./catalog/store.js";
import type { ProviderMode } from "./catalog/types.js";
import type { Config } from "./config.js";
import type { ArtifactStore } from "./files/artifact-store.js";
import type { JobSender } from "./jobs/sender.js";
import type { Logger } from "./logger.js";

/**
 * Everything a service may reach, built once by the composition root (server/platform.ts) and
 * handed to the HTTP app and the /mcp tools alike — neither owns it.
 */
export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  catalog: CatalogStore;
  jobs: JobSender;
  artifacts: ArtifactStore;
  /** The platform secret (signs artifact URLs, seals webhook secrets). */
  secret: Buffer;
  /** provider slug → "live" | "simulated" | "off", once the catalog is loaded. */
  providerModes?: () => Record<string, ProviderMode>;
  /** The `provider/protocol` pairs that run for real (credentials and an adapter): all a live key may use. */
  liveRoutes?: () => readonly string[];
}

/** One /mcp request, authenticated and checked by the HTTP layer, for the MCP side to answer. */
export interface McpHttpCall {
  req: IncomingMessage;
  res: ServerResponse;
  actor: Actor;
  /** The origin clients reached us at (completes relative download links). */
  origin: string;
  requestId: string;
  log: Logger;
  /** Largest JSON-RPC body accepted, in bytes. */
  maxBodyBytes: number;
}

/**
 * Answers a /mcp request by writing to `res` itself. Built by mcp/ and injected into the HTTP app by
 * the composition root, so server/http and mcp/ never import each other.
 */
export type McpHttpHandler = (call: McpHttpCall) => Promise<void>;
