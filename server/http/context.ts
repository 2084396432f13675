import type { Context, Middleware } from "koa";
import type PgBoss from "pg-boss";
import type { Db } from "../../db/connection.js";
import type { CatalogStore } from "../catalog/store.js";
import type { ArtifactStore } from "../files/artifact-store.js";
import type { JobSender } from "../jobs/batches.js";
import type { Actor } from "../accounts/actor.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { RateLimiters } from "./middleware/rate-limit.js";

/** Everything a request handler may reach; built once in app.ts. */
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

export interface AppState {
  requestId: string;
  actor?: Actor;
  /** The parsed JSON body (set by the body middleware) — undefined when the request had none. */
  body?: unknown;
  rawBody?: Buffer;
  log: Logger;
}

export type AppContext = Context & { state: AppState };
export type AppMiddleware = Middleware<AppState, AppContext>;
export type { RateLimiters };
