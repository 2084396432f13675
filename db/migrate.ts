import type { Knex } from "knex";
import type { Db } from "./connection.js";
import * as m0001 from "./migrations/0001_foundation.js";
import * as m0002 from "./migrations/0002_catalog_quotes.js";
import * as m0003 from "./migrations/0003_batches.js";
import * as m0004 from "./migrations/0004_feedback.js";
import * as m0005 from "./migrations/0005_file_items_text.js";
import * as m0006 from "./migrations/0006_file_item_chunks.js";
import * as m0007 from "./migrations/0007_batch_item_output_json.js";
import * as m0008 from "./migrations/0008_quote_plan_json.js";
import * as m0009 from "./migrations/0009_delivery_webhooks_per_environment.js";
import * as m0010 from "./migrations/0010_batch_estimated_tokens.js";
import * as m0011 from "./migrations/0011_work_unit_poll_failures.js";
import * as m0012 from "./migrations/0012_batch_compat_deleted.js";
import * as m0013 from "./migrations/0013_batch_pending_request.js";
import * as m0014 from "./migrations/0014_file_expiry.js";
import * as m0015 from "./migrations/0015_batch_item_storage.js";
import * as m0016 from "./migrations/0016_submit_intents.js";
import * as m0017 from "./migrations/0017_batch_item_output_json.js";
import * as m0018 from "./migrations/0018_batch_item_input_json.js";
import * as m0019 from "./migrations/0019_batch_items_without_batch_fk.js";
import * as m0020 from "./migrations/0020_batch_final_tally.js";

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

// An explicit list rather than a directory scan: the same code runs under tsx, vitest and a
// compiled build without knex guessing file extensions.
const MIGRATIONS: [string, Migration][] = [
  ["0001_foundation", m0001],
  ["0002_catalog_quotes", m0002],
  ["0003_batches", m0003],
  ["0004_feedback", m0004],
  ["0005_file_items_text", m0005],
  ["0006_file_item_chunks", m0006],
  ["0007_batch_item_output_json", m0007],
  ["0008_quote_plan_json", m0008],
  ["0009_delivery_webhooks_per_environment", m0009],
  ["0010_batch_estimated_tokens", m0010],
  ["0011_work_unit_poll_failures", m0011],
  ["0012_batch_compat_deleted", m0012],
  ["0013_batch_pending_request", m0013],
  ["0014_file_expiry", m0014],
  ["0015_batch_item_storage", m0015],
  ["0016_submit_intents", m0016],
  ["0017_batch_item_output_json", m0017],
  ["0018_batch_item_input_json", m0018],
  ["0019_batch_items_without_batch_fk", m0019],
  ["0020_batch_final_tally", m0020],
];

const source: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

/** Applies every pending migration (knex's own lock keeps concurrent starts safe). */
export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource: source });
  return applied as string[];
}
