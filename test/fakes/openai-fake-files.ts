/**
 * The Files API of the OpenAI fake: multipart upload (busboy), list, retrieve, raw content, delete.
 * Batch output and error files are stored here too (purpose `batch_output`), so an adapter fetches
 * them exactly as it would from OpenAI.
 */
import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import type { IdFn } from "./openai-fake-bodies.js";
import { HttpError, badRequest, cursorPage, errorBody, nowSec, parseLimit } from "./openai-fake-util.js";

/** The wire File object (openai `FileObject`). */
export interface FileWire {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: "processed";
  expires_at?: number;
}

export interface StoredFile {
  wire: FileWire;
  content: Buffer;
}

/** The upload purposes OpenAI accepts (openai `FilePurpose`). */
const PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];
/** `expires_after.seconds` bounds from the Files API reference: 1 hour to 30 days. */
const MIN_EXPIRY = 3600;
const MAX_EXPIRY = 2_592_000;

export class FileStore {
  readonly files = new Map<string, StoredFile>();

  constructor(private readonly ids: IdFn) {}

  add(content: Buffer, filename: string, purpose: string, expiresAfterSeconds?: number): StoredFile {
    const created = nowSec();
    const wire: FileWire = {
      id: this.ids("file-"),
      object: "file",
      bytes: content.length,
      created_at: created,
      filename,
      purpose,
      status: "processed",
    };
    if (expiresAfterSeconds !== undefined) wire.expires_at = created + expiresAfterSeconds;
    const f = { wire, content };
    this.files.set(wire.id, f);
    return f;
  }

  /** A live file, or OpenAI's 404; an expired file is gone, as upstream deletes it. */
  get(id: string, param = "id"): StoredFile {
    const f = this.files.get(id);
    if (!f || (f.wire.expires_at !== undefined && f.wire.expires_at <= nowSec()))
      throw new HttpError(404, errorBody(`No such File object: ${id}`, "invalid_request_error", param, null));
    return f;
  }

  list(q: URLSearchParams) {
    const limit = parseLimit(q.get("limit"), 10_000, 10_000);
    const order = q.get("order") ?? "desc";
    if (order !== "asc" && order !== "desc") throw badRequest("Invalid 'order': expected 'asc' or 'desc'.", "order", "invalid_value");
    const purpose = q.get("purpose");
    const now = nowSec();
    // Map iteration is creation order; ids sort the same way, which keeps `after` stable.
    let all = [...this.files.values()]
      .map((f) => f.wire)
      .filter((w) => (!purpose || w.purpose === purpose) && (w.expires_at === undefined || w.expires_at > now));
    if (order === "desc") all = all.reverse();
    return cursorPage(all, q.get("after"), limit);
  }

  delete(id: string) {
    this.get(id);
    this.files.delete(id);
    return { id, object: "file" as const, deleted: true };
  }

  /** `POST /v1/files`: multipart with `file`, `purpose`, optional `expires_after[anchor|seconds]`. */
  async upload(req: IncomingMessage): Promise<FileWire> {
    const { fields, file } = await readMultipart(req);
    if (!file) throw badRequest("Missing required parameter: 'file'.", "file", "missing_required_parameter");
    const purpose = fields.get("purpose");
    if (!purpose) throw badRequest("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
    if (!PURPOSES.includes(purpose))
      throw badRequest(`'${purpose}' is not one of ${JSON.stringify(PURPOSES)} - 'purpose'`, "purpose", "invalid_value");
    let expires: number | undefined;
    const anchor = fields.get("expires_after[anchor]");
    const seconds = fields.get("expires_after[seconds]");
    if (anchor !== undefined || seconds !== undefined) {
      if (anchor !== "created_at")
        throw badRequest("Invalid 'expires_after.anchor': expected 'created_at'.", "expires_after.anchor", "invalid_value");
      expires = Number(seconds);
      if (!Number.isInteger(expires) || expires < MIN_EXPIRY || expires > MAX_EXPIRY)
        throw badRequest(
          `Invalid 'expires_after.seconds': expected an integer between ${MIN_EXPIRY} and ${MAX_EXPIRY}.`,
          "expires_after.seconds",
          "invalid_value",
        );
    }
    return this.add(file.content, file.filename, purpose, expires).wire;
  }
}

interface Multipart {
  fields: Map<string, string>;
  file: { filename: string; content: Buffer } | null;
}

function readMultipart(req: IncomingMessage): Promise<Multipart> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("multipart/form-data"))
    return Promise.reject(badRequest(`Invalid Content-Type header (${type || "none"}), expected multipart/form-data.`));
  return new Promise((resolve, reject) => {
    const out: Multipart = { fields: new Map(), file: null };
    let bb: busboy.Busboy;
    try {
      // Files may be up to 512 MB upstream; the fake keeps them in memory, which tests can afford.
      bb = busboy({ headers: req.headers, limits: { fileSize: 512 * 1024 * 1024 } });
    } catch (e) {
      reject(badRequest(`Could not parse multipart form: ${(e as Error).message}`));
      return;
    }
    bb.on("field", (name, value) => out.fields.set(name, value));
    bb.on("file", (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (name === "file") out.file = { filename: info.filename ?? "upload", content: Buffer.concat(chunks) };
      });
    });
    bb.on("error", (e) => reject(badRequest(`Could not parse multipart form: ${(e as Error).message}`)));
    bb.on("close", () => resolve(out));
    req.pipe(bb);
  });
}
