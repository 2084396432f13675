import { Readable } from "node:stream";
import type { Db } from "../../../db/connection.js";
import { resultsPage } from "../../../db/queries/batch-items.js";
import { listFilesPage, type FileRow } from "../../../db/queries/files.js";
import type { Actor } from "../../accounts/actor.js";
import { FAILED_RESULT_STATUSES } from "../../batches/lifecycle.js";
import { isAppError } from "../../errors.js";
import type { ArtifactStore, OpenedArtifact } from "../../files/artifact-store.js";
import { splitPage } from "../../pagination.js";
import { listPage } from "./batches.js";
import { openAiResultLine } from "./result-lines.js";

export interface BatchFileDeps {
  db: Db;
  artifacts: ArtifactStore;
}

/** OpenAI has one purpose for a batch's output and error files; our receipts are batch files too. */
const PURPOSE: Record<string, string> = {
  batch: "batch",
  batch_output: "batch_output",
  batch_errors: "batch_output",
  batch_receipt: "batch_output",
};

/** A files row as OpenAI's file object, `bytes` as stored (see openAiFileObject for a batch's result files). */
export function toOpenAiFile(f: FileRow) {
  return {
    id: f.id,
    object: "file" as const,
    bytes: Number(f.bytes),
    created_at: Math.floor(new Date(f.created_at).getTime() / 1000),
    filename: f.filename,
    purpose: PURPOSE[f.purpose] ?? f.purpose,
    status: "processed" as const,
    expires_at: f.expires_at ? Math.floor(new Date(f.expires_at).getTime() / 1000) : null,
    status_details: null,
  };
}

/** Whether this surface re-renders the file (a batch's output or errors) or serves its stored bytes. */
export const isRenderedBatchFile = (f: FileRow): boolean =>
  f.batch_id !== null && (f.purpose === "batch_output" || f.purpose === "batch_errors");

const PAGE = 1000;

/**
 * A batch's output (completed items) or error file (the rest) in OpenAI's line format, read from
 * the items in pages as it is written: memory stays flat whatever the batch's size.
 */
function openAiBatchFileLines(db: Db, file: FileRow): Readable {
  const batchId = file.batch_id!;
  const statuses = file.purpose === "batch_output" ? (["completed"] as const) : FAILED_RESULT_STATUSES;
  const page = (after: number) => {
    const rows = resultsPage(db, batchId, after, PAGE, statuses);
    // Awaited in turn below; a reader that stops early mustn't leave its rejection unhandled.
    rows.catch(() => undefined);
    return rows;
  };
  async function* lines() {
    let next = page(-1);
    for (;;) {
      const rows = await next;
      if (rows.length === 0) return;
      // The next page is read while this one is rendered: the database and this process work at once.
      next = rows.length < PAGE ? Promise.resolve([]) : page(rows[rows.length - 1]!.idx);
      yield rows.map((r) => `${JSON.stringify(openAiResultLine(batchId, r))}\n`).join("");
    }
  }
  return Readable.from(lines());
}

/** Where the OpenAI rendering of a batch's output or error file is kept. */
const renderedKey = (file: FileRow) => `${file.org_id}/${file.batch_id}/openai-${file.purpose}.jsonl`;

/**
 * Renderings being written by this process, by key: a reader arriving meanwhile (an SDK's
 * files.retrieve and files.content of a fresh output file at once) waits for that one.
 */
const rendering = new Map<string, Promise<unknown>>();

/** Writes the rendering: one write per key at a time in this process, whoever asks. */
function render(deps: BatchFileDeps, file: FileRow): Promise<unknown> {
  const key = renderedKey(file);
  let writing = rendering.get(key);
  if (!writing) {
    writing = deps.artifacts
      .put(key, openAiBatchFileLines(deps.db, file), { contentType: "application/x-ndjson" })
      .finally(() => rendering.delete(key));
    rendering.set(key, writing);
  }
  return writing;
}

/**
 * The OpenAI rendering of a batch's output or error file, stored beside the native files on first
 * use and served from there after. The items of a batch with result files no longer change, so one
 * rendering holds, and its size is known: the file object's `bytes` and the download's
 * Content-Length agree with what the client reads. The native files stay as they are.
 */
export async function openRendered(deps: BatchFileDeps, file: FileRow): Promise<OpenedArtifact> {
  const key = renderedKey(file);
  // The stores never show a half-written object, but waiting for the write under way beats a second one.
  await rendering.get(key)?.catch(() => undefined);
  try {
    return await deps.artifacts.open(key);
  } catch (err) {
    if (!(isAppError(err) && err.code === "not_found")) throw err;
  }
  // Two first readers in different processes both write the same bytes.
  await render(deps, file);
  return deps.artifacts.open(key);
}

/** OpenAI's file object, with the size of the rendering for a batch's output and error files. */
export async function openAiFileObject(deps: BatchFileDeps, file: FileRow) {
  if (!isRenderedBatchFile(file)) return toOpenAiFile(file);
  const { body, bytes } = await openRendered(deps, file);
  (body as Readable).destroy?.();
  return { ...toOpenAiFile(file), bytes };
}

export async function listOpenAiFiles(
  deps: BatchFileDeps,
  actor: Actor,
  q: { limit: number; after?: string; purpose?: string; order?: "asc" | "desc" },
) {
  const asc = q.order === "asc";
  // OpenAI's `batch_output` stands for our three batch file purposes, so the filter takes a list.
  const purposes = q.purpose === undefined ? undefined : Object.keys(PURPOSE).filter((p) => PURPOSE[p] === q.purpose);
  const rows = await listFilesPage(deps.db, actor.org_id, actor.environment, { limit: q.limit + 1, after: q.after, asc, purposes });
  const { kept, has_more } = splitPage(rows, q.limit, (f) => f.id);
  return listPage(await Promise.all(kept.map((f) => openAiFileObject(deps, f))), has_more);
}
