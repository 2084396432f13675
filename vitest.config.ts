import { defineConfig } from "vitest/config";

// Two projects; `npm test` runs both, `npm run test:unit` / `npm run test:integration` one each.
// * unit: the pure tests beside their code — no database and no global setup, so they take seconds.
// * integration: test/ and every other test file, plus the tests beside code that need PostgreSQL
//   itself (db/embedded.test.ts runs the real binaries). Only this project starts the embedded
//   PostgreSQL (test/global-setup.ts); a unit test that reaches for it fails at once, since
//   nothing provides `pgAdminUrl` there.
// Two more run only when asked: fuzz (`npm run test:fuzz`, test/fuzz/) and chaos
// (`npm run test:chaos`, test/chaos/) — long, process-killing or generated-input suites that `.ci/run`
// calls on their own.
// The unit and integration file sets are complements: a test beside code that needs PostgreSQL goes into the unit
// exclude and the integration include below (`vitest list --filesOnly` shows where each file lands).
const ALWAYS_EXCLUDED = ["**/node_modules/**", "data/**"];

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["{server,worker,mcp,db}/**/*.test.ts"],
          exclude: [...ALWAYS_EXCLUDED, "db/embedded.test.ts"],
          pool: "forks",
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["**/*.test.ts"],
          exclude: [...ALWAYS_EXCLUDED, "{server,worker,mcp}/**", "db/**/!(embedded).test.ts", "test/{fuzz,chaos}/**"],
          globalSetup: ["test/global-setup.ts"],
          pool: "forks",
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      ...["fuzz", "chaos"].map((name) => ({
        test: {
          name,
          include: [`test/${name}/**/*.test.ts`],
          exclude: ALWAYS_EXCLUDED,
          globalSetup: ["test/global-setup.ts"],
          pool: "forks" as const,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      })),
    ],
  },
});
