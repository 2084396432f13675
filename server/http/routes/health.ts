import { sql } from "../../jobs/boss.js";
import { fail } from "../../errors.js";
import { livenessObject, readinessObject } from "../../meta/responses.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

export function healthRoutes(deps: AppDeps) {
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
      summary: "Readiness: the database and the job queue are reachable.",
      response: readinessObject,
      handler: async () => {
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
