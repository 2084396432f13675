import { sql } from "../../jobs/boss.js";
import { fail } from "../../errors.js";
import { livenessObject, readinessObject } from "../../meta/responses.js";
import type { DrainState } from "../../ops/drain-state.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

/** Liveness stays "ok" while the process drains; readiness turns 503 the moment draining starts. */
export function healthRoutes(deps: AppDeps, drain: DrainState) {
  return [
    defineRoute({
      method: "get",
      path: "/healthz",
      tag: "meta",
      auth: "none",
      summary: "Liveness: the process is up.",
      response: livenessObject,
      handler: async () => ({ status: "ok" }),
    }),
    defineRoute({
      method: "get",
      path: "/readyz",
      tag: "meta",
      auth: "none",
      summary: "Readiness: the database and the job queue are reachable, and the process is not shutting down.",
      response: readinessObject,
      handler: async () => {
        // Draining: answered before any check, so the load balancer stops sending at once.
        if (drain.draining)
          throw fail.serviceUnavailable("Not ready: shutting down.", { draining: true, since: drain.since!.toISOString() });
        const checks = { database: "ok", queue: "ok" };
        try {
          await deps.db.raw("SELECT 1");
        } catch {
          checks.database = "unreachable";
        }
        try {
          await deps.db.raw(sql.queueReady);
        } catch {
          checks.queue = "unreachable";
        }
        if (checks.database !== "ok" || checks.queue !== "ok") {
          throw fail.serviceUnavailable("Not ready.", { checks });
        }
        return { status: "ready", checks };
      },
    }),
  ];
}
