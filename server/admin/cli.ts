import { parseArgs } from "node:util";
import { migrate } from "../../db/migrate.js";
import { createKeyForOrg } from "../accounts/service.js";
import { getOrg } from "../../db/queries/orgs.js";
import { post } from "../billing/ledger.js";
import { loadConfig } from "../config.js";
import { openDatabase } from "../database.js";
import { newId } from "../ids.js";
import { createLogger } from "../logger.js";
import { formatUsd, parseUsd } from "../money.js";

const USAGE = `Usage: npm run admin -- <command>

  credits grant <org_id> <usd> [--reason TEXT] [--test]   post a promo_grant ledger entry
  keys create <org_id> [--name NAME] [--test]             print a new API key (all scopes)

Finds the same database as \`npm start\`: DATABASE_URL, or the embedded server of
BATCHROUTER_DATA_DIR (the running one if the platform is up).`;

async function run(argv: string[]): Promise<string> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { reason: { type: "string" }, name: { type: "string" }, test: { type: "boolean", default: false }, help: { type: "boolean" } },
  });
  const [group, action, orgId, amount] = positionals;
  if (values.help || !group) return USAGE;
  const environment = values.test ? "test" : "live";
  const config = loadConfig();
  const logger = createLogger("warn");
  const database = await openDatabase(config, logger, { poolMax: 2, preferRunning: true });
  try {
    await migrate(database.db);
    if (group === "credits" && action === "grant" && orgId && amount) {
      if (!(await getOrg(database.db, orgId))) throw new Error(`no organisation ${orgId}`);
      const micros = parseUsd(amount);
      if (micros <= 0) throw new Error("the amount must be positive");
      const { entry } = await post(database.db, {
        org_id: orgId,
        environment,
        kind: "promo_grant",
        available_delta: micros,
        posting_key: `admin_grant:${newId("req")}`,
        description: values.reason ?? "Operator grant",
      });
      return `Granted ${formatUsd(micros)} USD to ${orgId} (${environment}); ledger entry ${entry.id}; available balance ${formatUsd(entry.available_after)} USD.`;
    }
    if (group === "keys" && action === "create" && orgId) {
      const key = await createKeyForOrg(database.db, orgId, environment, values.name ?? "operator key");
      return `${key.api_key}\n(key id ${key.id}, ${environment}; shown once — store it now)`;
    }
    throw new Error(`unknown command: ${positionals.join(" ")}\n\n${USAGE}`);
  } finally {
    await database.close();
  }
}

run(process.argv.slice(2)).then(
  (out) => {
    process.stdout.write(`${out}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`admin: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
