import type { Db } from "../../db/connection.js";
import { fileItems, getFile } from "../../db/queries/files.js";
import type { Actor } from "../accounts/actor.js";
import { errors } from "../errors.js";

/** The normalised items of an uploaded manifest the caller owns (404 for anyone else's). */
export async function loadManifestItems(db: Db, actor: Actor, fileId: string): Promise<unknown[]> {
  const file = await getFile(db, actor.org_id, actor.environment, fileId);
  if (file?.purpose !== "batch" || file.item_count === null) throw errors.notFound("file");
  return fileItems(db, file.id);
}
