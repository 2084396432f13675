import { PassThrough, Readable } from "node:stream";
import type { Db } from "../../db/connection.js";
import type { FileRow } from "../../db/queries/files.js";
import type { Actor } from "../accounts/actor.js";
import { AppError, fail } from "../errors.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import type { ArtifactStore } from "./artifact-store.js";
import { drained } from "../../db/copy-binary.js";
import { ItemSink } from "./item-sink.js";
import { checkHeaders } from "./manifest-headers.js";
import { parseManifest, type ParseResult, type PreflightError } from "./manifest-parser.js";

/** spec/api.md §4: per manifest. */
export const MANIFEST_LIMITS = { maxBytes: 2 * 1024 ** 3, maxLines: 1_000_000, maxLineBytes: 10 * 1024 * 1024 };
const MAX_LISTED_ERRORS = 100;

export interface UploadDeps {
  db: Db;
  artifacts: ArtifactStore;
  logger?: Logger;
}

export interface UploadInput {
  /** The manifest's bytes: the request itself, or a multipart file part. */
  source: Readable | AsyncIterable<Buffer>;
  filename: string;
  /** `x-batchrouter-item-count` and `x-content-sha256`, when sent. */
  headers: { itemCount?: string; sha256?: string };
  /**
   * Runs once the body has been read and passed every check, just before commit; a throw stores
   * nothing. It may add what the fields after the file said (an expiry).
   */
  beforeCommit?: () => Promise<void | { expires_at?: Date }>;
  /** Lower limits, for tests. */
  limits?: Partial<typeof MANIFEST_LIMITS>;
}

/**
 * Stores an uploaded JSONL manifest in one pass over its bytes, never holding more than a batch of
 * lines: the raw bytes are teed into the artifact store (`uploads/<org>/<file>.jsonl`, what
 * `/content` serves back) while the parser checks each line and COPYs the normalised items into
 * `file_item_chunks`. All or nothing: on any bad line, a header mismatch, a limit, a failure of our own,
 * the transaction rolls back and the stored object is deleted. The object is complete before the
 * commit, so a committed file always has its bytes; a crash in between leaves at most an object
 * under `uploads/` with no files row, which nothing can reach.
 */
export async function uploadManifest(deps: UploadDeps, actor: Actor, input: UploadInput): Promise<FileRow> {
  // A malformed header can be refused before reading a byte: checkHeaders skips the comparisons for
  // an aborted parse, so this stub yields only the format errors.
  const early = checkHeaders({ item_count: 0, bytes: 0, sha256: "", format: "empty", errors: [], aborted: "too_large" }, input.headers);
  if (early.length > 0) throw preflightFailed(early);

  const id = newId("file");
  const key = `uploads/${actor.org_id}/${id}.jsonl`;
  // Slack for the store's write latency, so a slow fs or S3 write doesn't stall the parse at once.
  const raw = new PassThrough({ highWaterMark: 1024 * 1024 });
  const stored = deps.artifacts.put(key, raw, { contentType: "application/x-ndjson" });
  stored.catch(() => undefined); // awaited below; it may fail while the parse is still running
  const sink = new ItemSink(deps.db, {
    id,
    org_id: actor.org_id,
    environment: actor.environment,
    purpose: "batch",
    filename: input.filename,
    bytes: 0,
    sha256: "",
    item_count: null,
    format: null,
    storage_key: key,
    batch_id: null,
  });
  try {
    const limits = { ...MANIFEST_LIMITS, ...input.limits };
    const result = await parseManifest(tee(input.source, raw), {
      onItems: (b, texts) => sink.write(b, texts),
      maxErrors: MAX_LISTED_ERRORS,
      ...limits,
    });
    rejectIfInvalid(result, input.headers, limits);
    raw.end();
    const object = await stored;
    // Both hashes cover the same bytes; a difference would mean the tee lost or reordered data.
    if (object.sha256 !== result.sha256 || object.bytes !== result.bytes)
      throw new Error(`stored ${object.bytes} bytes (${object.sha256}), parsed ${result.bytes} (${result.sha256})`);
    const extra = (await input.beforeCommit?.()) ?? {};
    return await sink.commit({
      bytes: result.bytes,
      sha256: result.sha256,
      item_count: result.item_count,
      format: result.format,
      ...extra,
    });
  } catch (err) {
    await sink.abort().catch((e) => deps.logger?.error({ err: e, file_id: id }, "upload rollback failed"));
    // Finish the object, then delete it. Destroying the stream instead can leave the local store's
    // temp file behind: its pipeline may settle (and remove the file) before the temp file's open
    // has completed, which then creates it again (seen in about 1 of 500 failed uploads in our tests).
    if (!raw.destroyed) raw.end();
    await stored.catch(() => undefined);
    await deps.artifacts.delete(key).catch((e) => deps.logger?.error({ err: e, key }, "could not delete the object of a failed upload"));
    throw err;
  }
}

function rejectIfInvalid(result: ParseResult, headers: UploadInput["headers"], limits: typeof MANIFEST_LIMITS): void {
  const lineErrors = [...result.errors];
  if (result.aborted) {
    // The limit is why the upload stopped: it leads the list, ahead of any bad lines before it.
    const limit = lineErrors.findIndex((e) => e.code === result.aborted);
    if (limit > 0) lineErrors.unshift(...lineErrors.splice(limit, 1));
    const what = result.aborted === "too_large" ? `${limits.maxBytes} bytes` : `${limits.maxLines} lines`;
    throw fail.payloadTooLarge(`A manifest is limited to ${what}; split it into several files.`, {
      limit: result.aborted === "too_large" ? { bytes: limits.maxBytes } : { lines: limits.maxLines },
      preflight: lineErrors.slice(0, MAX_LISTED_ERRORS),
    });
  }
  // Header mismatches are told with the line errors (as line 0), so one answer lists every problem.
  const all = [...checkHeaders(result, headers), ...lineErrors];
  if (all.length > 0) throw preflightFailed(all, result);
}

function preflightFailed(errors: PreflightError[], result?: ParseResult): AppError {
  const first = errors[0]!;
  const where = first.line > 0 ? `line ${first.line}: ` : "";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? "s" : ""})` : "";
  const details: Record<string, unknown> = { preflight: errors.slice(0, MAX_LISTED_ERRORS) };
  if (result) {
    details.item_count = result.item_count;
    if (result.unchecked_lines) details.unchecked_lines = result.unchecked_lines;
  }
  return fail.preflightFailed(`The manifest was not stored: ${where}${first.message}${more}.`, details);
}

/**
 * Yields the source's chunks to the parser after handing each to the artifact store, waiting when
 * the store lags so neither side buffers the body. A Readable is not destroyed when the parser stops
 * early: the request must stay open for the answer (the route discards the rest).
 */
async function* tee(source: UploadInput["source"], copy: PassThrough): AsyncGenerator<Buffer> {
  const it = source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await it.next();
      } catch (e) {
        done = true;
        if (e instanceof AppError) throw e;
        throw fail.invalidRequest(`The request body could not be read: ${(e as Error).message}.`);
      }
      if (next.done) {
        done = true;
        return;
      }
      const chunk = next.value as Buffer;
      if (!copy.write(chunk)) await drained(copy);
      yield chunk;
    }
  } finally {
    if (!done) await Promise.resolve(it.return?.()).catch(() => undefined);
  }
}
