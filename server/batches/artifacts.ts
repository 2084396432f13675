import type { Db } from "../../db/connection.js";
import { laneSummary } from "../../db/queries/batch-items.js";
import { resultLineBytes } from "../../db/queries/result-lines.js";
import { routeEvents, type BatchRow } from "../../db/queries/batches.js";
import { findBatchFile, insertFile, updateFileContent } from "../../db/queries/files.js";
import { type ArtifactStore, LentChunks } from "../files/artifact-store.js";
import { newId } from "../ids.js";
import { money } from "../money.js";
import { FAILED_RESULT_STATUSES } from "./lifecycle.js";

/** What writing a batch's files needs. */
export interface ArtifactDeps {
  db: Db;
  artifacts: ArtifactStore;
}

/** The output (or errors) file's bytes, lent: each buffer is refilled once the store asks for the next. */
function lines(deps: ArtifactDeps, batchId: string, completed: boolean) {
  return resultLineBytes(deps.db, batchId, completed ? ["completed"] : FAILED_RESULT_STATUSES, { lend: true });
}

type Lanes = Awaited<ReturnType<typeof laneSummary>>;

async function* receiptLines(deps: ArtifactDeps, batch: BatchRow, lanes: Lanes) {
  yield `${JSON.stringify({ type: "summary", batch_id: batch.id, quoted_total: money(batch.quoted_total_micros), item_count: batch.item_count, lanes })}\n`;
  for (const e of await routeEvents(deps.db, batch.id)) yield `${JSON.stringify({ type: "route_event", ...e })}\n`;
}

/** The lines of the errors file — none without reading the items when the lane summary counts no failed result. */
async function* errorLines(deps: ArtifactDeps, batchId: string, lanes: Promise<Lanes>) {
  // Every item is completed, open or a failed result (failed, cancelled, expired).
  const failedResults = (await lanes).reduce((n, l) => n + l.item_count - l.completed - l.open, 0);
  if (failedResults > 0) yield* lines(deps, batchId, false);
}

/**
 * Streams the output, errors and receipt files into the artifact store and records them as files.
 * Keys are fixed per batch, so a re-run overwrites rather than duplicates.
 */
export async function writeArtifacts(deps: ArtifactDeps, batch: BatchRow): Promise<NonNullable<BatchRow["artifacts"]>> {
  // One pass over the items counts them by lane for the receipt, and tells whether an errors file
  // has any line: a batch without failures is read once for its output, not twice.
  const lanes = laneSummary(deps.db, batch.id);
  // Awaited by the errors and receipt writers once they start; a failure before then is theirs to report.
  lanes.catch(() => undefined);
  const kinds = {
    output: () => new LentChunks(lines(deps, batch.id, true)),
    errors: () => new LentChunks(errorLines(deps, batch.id, lanes)),
    receipt: async function* () {
      yield* receiptLines(deps, batch, await lanes);
    },
  };
  const out: NonNullable<BatchRow["artifacts"]> = {};
  // The three files are independent: write them side by side.
  await Promise.all(
    Object.entries(kinds).map(async ([kind, gen]) => {
      const key = `${batch.org_id}/${batch.id}/${kind}.jsonl`;
      const stored = await deps.artifacts.put(key, gen(), { contentType: "application/x-ndjson" });
      const existing = await findBatchFile(deps.db, batch.id, `batch_${kind}`);
      const fileId = existing?.id ?? newId("file");
      if (existing) await updateFileContent(deps.db, fileId, stored);
      else {
        await insertFile(deps.db, {
          id: fileId,
          org_id: batch.org_id,
          environment: batch.environment,
          purpose: `batch_${kind}`,
          filename: `${batch.id}-${kind}.jsonl`,
          bytes: stored.bytes,
          sha256: stored.sha256,
          item_count: null,
          format: "jsonl",
          storage_key: key,
          batch_id: batch.id,
        });
      }
      out[kind] = { file_id: fileId, storage_key: key, ...stored };
    }),
  );
  return out;
}
