import type { IncomingMessage, ServerResponse } from "node:http";
import type PgBoss from "pg-boss";
import type { Db } from "../db/connection.js";
import type { Actor } from "./accounts/actor.js";
import type { CatalogStore } from "./catalog/store.js";
import type { Config } from "./config.js";
import type { ArtifactStore } from "./files/artifact-store.js";
import type { JobSender } from "./jobs/batches.js";
import type { Logger } from "./logger.js";

/**
 * Everything a service may reach, built once by the composition root (server/platform.ts) and
 * handed to the HTTP app and the /mcp tools alike — neither owns it.
 */
export interface AppDeps {
  config: Config;
  db: Db;
  boss: PgBoss | null;
  logger: Logger;
  catalog: CatalogStore;
  jobs: JobSender;
  artifacts: ArtifactStore;
  /** The platform secret (signs artifact URLs, seals webhook secrets). */
  secret: Buffer;
  /** provider slug → "live" | "simulated" | "off", once the catalog is loaded. */
  providerModes?: () => Record<string, "live" | "simulated" | "off">;
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
