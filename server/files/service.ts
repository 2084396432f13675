import type { Db } from "../../db/connection.js";
import { deleteOwnFile, getFile, listFiles, type FileRow } from "../../db/queries/files.js";
import type { Actor } from "../accounts/actor.js";
import { errors } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ArtifactStore, OpenedArtifact } from "./artifact-store.js";
import type { ListFilesQuery } from "./schemas.js";
import { page } from "../pagination.js";

export interface FileDeps {
  db: Db;
  artifacts: ArtifactStore;
  logger?: Logger;
}

/** A files row as public JSON; a manifest also carries its id as `file_id` and `input_file_id` (spec §4 Decision). */
export function presentFile(f: FileRow) {
  const base = {
    id: f.id,
    object: "file" as const,
    purpose: f.purpose,
    filename: f.filename,
    bytes: Number(f.bytes),
    sha256: f.sha256,
    item_count: f.item_count,
    format: f.format,
    batch_id: f.batch_id,
    status: "processed" as const,
    created_at: new Date(f.created_at).toISOString(),
    expires_at: f.expires_at ? new Date(f.expires_at).toISOString() : null,
  };
  return f.purpose === "batch" ? { ...base, file_id: f.id, input_file_id: f.id } : base;
}

/** The caller's live file; anyone else's, another environment's or a deleted one is 404. */
export async function ownFile(db: Db, actor: Actor, id: string): Promise<FileRow> {
  const f = await getFile(db, actor.org_id, actor.environment, id);
  if (!f) throw errors.notFound("file");
  return f;
}

export async function listOwnFiles(deps: FileDeps, actor: Actor, q: ListFilesQuery) {
  const rows = await listFiles(deps.db, actor.org_id, actor.environment, q.limit + 1, q.cursor, q.purpose);
  return page(rows, q.limit, presentFile);
}

/** The stored bytes, exactly as uploaded (or as the worker wrote them). */
export async function openFileContent(deps: FileDeps, actor: Actor, id: string): Promise<{ file: FileRow; artifact: OpenedArtifact }> {
  const file = await ownFile(deps.db, actor, id);
  return { file, artifact: await deps.artifacts.open(file.storage_key) };
}

/**
 * Deletes a file: the row is marked deleted and its items dropped at once (a second delete is 404).
 * An uploaded manifest's bytes are removed too; a batch's output files only lose their files entry,
 * since the batch's own artifact links still serve those objects until the batch's retention ends.
 */
export async function deleteFile(deps: FileDeps, actor: Actor, id: string) {
  const f = await deleteOwnFile(deps.db, actor.org_id, actor.environment, id);
  if (!f) throw errors.notFound("file");
  if (f.purpose === "batch") {
    // The row is already gone for every reader; a leftover object is unreachable, so log and go on.
    await deps.artifacts.delete(f.storage_key).catch((err) => deps.logger?.error({ err, file_id: id }, "could not delete a file's object"));
  }
  return { id: f.id, object: "file" as const, deleted: true };
}
