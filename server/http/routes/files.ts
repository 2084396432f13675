import path from "node:path";
import type { FileRow } from "../../../db/queries/files.js";
import type { Actor } from "../../accounts/actor.js";
import { errors, fail } from "../../errors.js";
import { readMultipart, type MultipartReader } from "../../files/multipart.js";
import { fileIdParams, fileObject, listFilesQuery } from "../../files/schemas.js";
import { FILE_CONTENT_TYPES, fileDeleted, fileList } from "../../files/responses.js";
import { deleteFile, listOwnFiles, openFileContent, ownFile, presentFile } from "../../files/service.js";
import { MANIFEST_LIMITS, uploadManifest, type UploadInput } from "../../files/upload.js";
import type { AppContext, AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

const RAW_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"];
// A multipart body is the file plus its part headers and a few small fields.
const MULTIPART_OVERHEAD = 1024 * 1024;

/**
 * Files: manifest uploads (streamed, see server/files/upload.ts) and the files API that OpenAI
 * clients know. Both upload routes read their own body (`streamsBody`), so they are also the ones
 * that must discard what is left of it after an early answer.
 */
export function fileRoutes(deps: AppDeps) {
  const upload = (actor: Actor, input: UploadInput) => uploadManifest(deps, actor, input);
  return [
    defineRoute({
      method: "post",
      path: "/v1/batches/input-manifests",
      tag: "files",
      auth: "submit",
      status: 201,
      streamsBody: true,
      idempotency: "content-sha256",
      summary:
        "Upload a JSONL manifest (multipart `file`, or a raw application/x-ndjson body), streamed and checked line by line; all or nothing.",
      response: fileObject,
      handler: async (ctx, { actor }) =>
        answering(ctx, async (onStop) => {
          const headers = manifestHeaders(ctx);
          if (ctx.is("multipart/form-data")) {
            checkLength(ctx, MANIFEST_LIMITS.maxBytes + MULTIPART_OVERHEAD);
            const form = onStop(readMultipart(ctx.req, ctx.headers));
            const part = await filePart(form);
            return presentFile(
              await upload(actor, {
                source: part.stream,
                filename: cleanFilename(part.filename),
                headers,
                beforeCommit: () => form.fields.then(() => undefined),
              }),
            );
          }
          if (ctx.is(...RAW_TYPES)) {
            checkLength(ctx, MANIFEST_LIMITS.maxBytes);
            const name = typeof ctx.query.filename === "string" ? ctx.query.filename : "";
            return presentFile(await upload(actor, { source: ctx.req, filename: cleanFilename(name), headers }));
          }
          throw fail.unsupportedMediaType(
            `Send the manifest as multipart/form-data (field \`file\`) or as a raw body with Content-Type ${RAW_TYPES.join(", ")}.`,
          );
        }),
    }),
    defineRoute({
      method: "post",
      path: "/v1/files",
      tag: "files",
      auth: "submit",
      status: 201,
      streamsBody: true,
      idempotency: "content-sha256",
      summary:
        "Upload a file (multipart `file` and `purpose`, as the OpenAI Files API). Only `purpose=batch` is accepted: the file is checked and stored like an input manifest.",
      response: fileObject,
      handler: async (ctx, { actor }) =>
        answering(ctx, async (onStop) => {
          if (!ctx.is("multipart/form-data")) {
            throw fail.unsupportedMediaType("Send the file as multipart/form-data with the fields `file` and `purpose`.");
          }
          checkLength(ctx, MANIFEST_LIMITS.maxBytes + MULTIPART_OVERHEAD);
          const form = onStop(readMultipart(ctx.req, ctx.headers));
          const part = await filePart(form);
          // `purpose` may come before the file (refused at once when wrong) or after it (the OpenAI SDK's
          // order), in which case it is checked once the body has been read, before anything is committed.
          if (form.seen.purpose !== undefined) checkPurpose(form.seen.purpose);
          const beforeCommit = async () => {
            const fields = await form.fields;
            checkPurpose(fields.purpose);
            return { expires_at: expiryOf(fields, new Date()) };
          };
          return presentFile(
            await upload(actor, {
              source: part.stream,
              filename: cleanFilename(part.filename),
              headers: manifestHeaders(ctx),
              beforeCommit,
            }),
          );
        }),
    }),
    defineRoute({
      method: "get",
      path: "/v1/files",
      tag: "files",
      auth: "read",
      summary: "List files (uploaded manifests and batch output files), newest first.",
      query: listFilesQuery,
      response: fileList,
      handler: async (_ctx, { actor, query }) => listOwnFiles(deps, actor, query),
    }),
    defineRoute({
      method: "get",
      path: "/v1/files/:id",
      tag: "files",
      auth: "read",
      summary: "A file's metadata.",
      params: fileIdParams,
      response: fileObject,
      handler: async (_ctx, { actor, params }) => presentFile(await ownFile(deps.db, actor, params.id)),
    }),
    defineRoute({
      method: "get",
      path: "/v1/files/:id/content",
      tag: "files",
      auth: "read",
      summary: "The file's bytes exactly as stored (an upload as sent; a batch's output, errors or receipt JSONL).",
      params: fileIdParams,
      response: { contentTypes: FILE_CONTENT_TYPES, description: "The file's bytes exactly as stored: a JSONL manifest or batch file." },
      handler: async (ctx, { actor, params }) => {
        const { file, artifact } = await openFileContent(deps, actor, params.id);
        // Set the body first: Koa drops Content-Length when a stream body replaces another body.
        ctx.body = artifact.body;
        ctx.type = artifact.contentType;
        ctx.length = artifact.bytes;
        ctx.set("Content-Disposition", contentDisposition(file));
        ctx.set("Cache-Control", "private, no-store");
        ctx.set("X-Content-Type-Options", "nosniff");
        return undefined;
      },
    }),
    defineRoute({
      method: "delete",
      path: "/v1/files/:id",
      tag: "files",
      auth: "submit",
      summary: 'Delete a file: `{id, object: "file", deleted: true}`; its items and (for an upload) its bytes go with it.',
      params: fileIdParams,
      response: fileDeleted,
      handler: async (_ctx, { actor, params }) => deleteFile(deps, actor, params.id),
    }),
  ];
}

/**
 * Runs an upload; if it fails before the body has been read to its end (a limit, a bad header, a
 * failure of ours), the rest of the body is read and thrown away so the client, which may still be
 * sending, gets the answer instead of a stalled socket. Discarding costs bandwidth, not memory.
 */
async function answering(ctx: AppContext, run: (onStop: (form: MultipartReader) => MultipartReader) => Promise<unknown>): Promise<unknown> {
  let form: MultipartReader | undefined;
  try {
    return await run((f) => (form = f));
  } catch (err) {
    form?.stop();
    if (!ctx.req.readableEnded) ctx.req.resume();
    throw err;
  }
}

async function filePart(form: MultipartReader) {
  const part = await form.file;
  if (!part) throw errors.invalidRequest("The multipart body has no `file` part.", [{ path: "/file", message: "required" }]);
  return part;
}

/** OpenAI's limits for `expires_after.seconds` on files.create: one hour to 30 days. */
const EXPIRES_AFTER_SECONDS = { min: 3600, max: 2_592_000 };

/**
 * `expires_after[anchor]=created_at` and `expires_after[seconds]=N` (how the OpenAI SDK sends the
 * object in a form): the file is gone N seconds after it was created. Absent → never expires.
 */
export function expiryOf(fields: Record<string, string>, createdAt: Date): Date | undefined {
  const anchor = fields["expires_after[anchor]"];
  const seconds = fields["expires_after[seconds]"];
  if (anchor === undefined && seconds === undefined) return undefined;
  const bad = (path: string, message: string) => errors.invalidRequest(`Invalid body: ${path}: ${message}.`, [{ path, message }]);
  if (anchor !== "created_at") throw bad("/expires_after/anchor", 'must be "created_at"');
  const n = Number(seconds);
  if (!/^\d+$/.test(seconds ?? "") || n < EXPIRES_AFTER_SECONDS.min || n > EXPIRES_AFTER_SECONDS.max)
    throw bad("/expires_after/seconds", `an integer from ${EXPIRES_AFTER_SECONDS.min} to ${EXPIRES_AFTER_SECONDS.max}`);
  return new Date(createdAt.getTime() + n * 1000);
}

function checkPurpose(purpose: string | undefined): void {
  if (purpose === "batch") return;
  const message = purpose === undefined ? "required" : `only "batch" is supported, got "${purpose.slice(0, 40)}"`;
  throw errors.invalidRequest(`Invalid body: /purpose: ${message}.`, [{ path: "/purpose", message }]);
}

// A declared length over the limit is refused before reading a byte (a chunked body is checked as it streams).
function checkLength(ctx: AppContext, max: number): void {
  const encoding = ctx.get("Content-Encoding").trim().toLowerCase();
  if (encoding && encoding !== "identity")
    throw fail.unsupportedMediaType("Compressed request bodies are not accepted; send the manifest uncompressed.");
  const length = ctx.request.length;
  if (length !== undefined && length > max) {
    throw fail.payloadTooLarge(`A manifest is limited to ${MANIFEST_LIMITS.maxBytes} bytes; split it into several files.`, {
      limit: { bytes: MANIFEST_LIMITS.maxBytes },
    });
  }
}

function manifestHeaders(ctx: AppContext): UploadInput["headers"] {
  const itemCount = ctx.get("x-batchrouter-item-count");
  const sha256 = ctx.get("x-content-sha256");
  return { ...(itemCount ? { itemCount } : {}), ...(sha256 ? { sha256 } : {}) };
}

/** The client's file name, kept for display only: its last path segment, printable, at most 255 characters. */
function cleanFilename(name: string): string {
  // eslint-disable-next-line no-control-regex
  const base = path.posix
    .basename(name.replace(/\\/g, "/"))
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this strips from a file name
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .trim()
    .slice(0, 255);
  return base || "manifest.jsonl";
}

/** `attachment` with a plain and an RFC 5987 filename, so odd characters can't break the header. */
function contentDisposition(file: FileRow): string {
  const plain = file.filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(file.filename)}`;
}
