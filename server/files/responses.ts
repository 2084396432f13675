import { z } from "zod";
import { listOf } from "../responses.js";
import { fileObject } from "./schemas.js";

/** Success bodies of the files routes (server/files/service.ts). */

export { fileObject };

/** GET /v1/files, newest first. */
export const fileList = listOf(fileObject);

/** DELETE /v1/files/{id}. */
export const fileDeleted = z.object({
  id: z.string(),
  object: z.literal("file"),
  deleted: z.literal(true),
});

/**
 * GET /v1/files/{id}/content and the signed artifact links answer the stored bytes, not JSON:
 * manifests and batch files are stored as JSONL (server/files/artifact-store.ts `contentTypeFor`).
 */
export const FILE_CONTENT_TYPES = ["application/x-ndjson"] as const;
