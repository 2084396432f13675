/**
 * The dependency rule of ../shared/design.md §2, checked by `npm run lint`. The composition root
 * (server/main.ts, server/platform.ts) is the one named exception: it wires server/http, worker/
 * and mcp/ together.
 */
const ROOT = "^server/(main|platform)\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "koa-only-in-http",
      comment: "Only server/http imports Koa: services never see a request context.",
      severity: "error",
      from: { pathNot: "^(server/http/|test/|bench/)" },
      to: { path: "node_modules/(koa|@koa/)" },
    },
    {
      name: "domain-not-into-transport-or-worker",
      comment: "The domain starts work through server/jobs contracts; it never imports server/http, worker/ or mcp/.",
      severity: "error",
      from: { path: "^server/", pathNot: [ROOT, "^server/http/", "\\.test\\.ts$"] },
      to: { path: "^(server/http/|worker/|mcp/)" },
    },
    {
      name: "http-not-into-worker-or-mcp",
      comment: "server/http is transport only; the /mcp handler is injected by the composition root.",
      severity: "error",
      from: { path: "^server/http/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(worker/|mcp/)" },
    },
    {
      name: "mcp-not-into-http-or-worker",
      comment: "mcp/ talks to the platform as any client does: the HTTP API, or the domain services for /mcp.",
      severity: "error",
      from: { path: "^mcp/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(server/http/|worker/)" },
    },
    {
      name: "db-imports-no-domain",
      comment: "db/ (connection, migrations, queries) imports nothing from the domain, the worker or mcp.",
      severity: "error",
      from: { path: "^db/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(server/|worker/|mcp/)" },
    },
    {
      name: "adapters-only-from-worker",
      comment: "Provider adapters and job handlers are reached only from worker/ (and the composition root).",
      severity: "error",
      from: { pathNot: ["^worker/", ROOT, "^(test|bench)/"] },
      to: { path: "^worker/(providers|jobs)/" },
    },
    {
      name: "no-circular",
      comment: "Modules form no cycles: a cycle means two capabilities that can't be understood apart.",
      severity: "error",
      from: { pathNot: "^(test|bench)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|data)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      extensions: [".ts", ".js", ".json"],
    },
  },
};
