import busboy from "busboy";
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { fail } from "../errors.js";

export interface FilePart {
  stream: Readable;
  filename: string;
}

/**
 * A multipart/form-data body read as it streams in. The form's parts arrive in order and a part must
 * be consumed before the next one is parsed, so a text field sent after the file (the OpenAI SDK
 * sends `file` before `purpose`) is only known once the file has been read to its end: `fields`
 * settles when the whole body has been read.
 */
export interface MultipartReader {
  /** The first file part named `file`; null when the form ends without one. */
  file: Promise<FilePart | null>;
  /** The text fields (first value of each name), once the whole body has been read. */
  fields: Promise<Record<string, string>>;
  /** Text fields seen so far, for checks that can be made before the file has been read. */
  readonly seen: Readonly<Record<string, string>>;
  /** Stops parsing; the caller then discards the rest of the request. */
  stop(): void;
}

// Text fields are small (`purpose`, `expires_after[...]`); files other than the first are discarded
// but still parsed, so their number is bounded too.
const LIMITS = { fieldSize: 64 * 1024, fields: 50, files: 20, parts: 100 };

/** Starts parsing `req` (its headers give the boundary); throws 400 on a malformed Content-Type. */
export function readMultipart(req: Readable, headers: IncomingHttpHeaders, fileField = "file"): MultipartReader {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers, limits: LIMITS, highWaterMark: 1024 * 1024 });
  } catch (e) {
    throw fail.invalidRequest(`The multipart body cannot be read: ${(e as Error).message}.`);
  }
  const seen: Record<string, string> = {};
  let resolveFile!: (f: FilePart | null) => void;
  let rejectFile!: (e: Error) => void;
  let resolveFields!: (f: Record<string, string>) => void;
  let rejectFields!: (e: Error) => void;
  const file = new Promise<FilePart | null>((res, rej) => ([resolveFile, rejectFile] = [res, rej]));
  const fields = new Promise<Record<string, string>>((res, rej) => ([resolveFields, rejectFields] = [res, rej]));
  // Either promise may be left unawaited when the other fails first; that is not an unhandled error.
  file.catch(() => undefined);
  fields.catch(() => undefined);

  let taken = false;
  bb.on("file", (name: string, stream: Readable, info: busboy.FileInfo) => {
    // Busboy fails an unfinished file stream when the form breaks; whoever reads the stream sees that
    // error through its iterator, but an unread stream must not crash the process with it.
    stream.on("error", () => undefined);
    if (name !== fileField || taken) {
      stream.resume(); // "only the first file": the others are read past and dropped
      return;
    }
    taken = true;
    resolveFile({ stream, filename: info.filename ?? "" });
  });
  bb.on("field", (name: string, value: string, info: busboy.FieldInfo) => {
    if (name === fileField && !taken) {
      const e = fail.invalidRequest("Send the manifest as a file part (with a filename), e.g. `curl -F file=@manifest.jsonl`.");
      rejectFile(e);
      rejectFields(e);
      return;
    }
    if (!(name in seen) && !info.valueTruncated) seen[name] = value;
  });
  bb.on("close", () => {
    resolveFile(null);
    resolveFields({ ...seen });
  });
  bb.on("error", (err: Error) => {
    // Busboy also fails the file stream being read, so the manifest reader sees the same error.
    const e = fail.invalidRequest(`The multipart body is malformed: ${err.message}.`);
    rejectFile(e);
    rejectFields(e);
  });
  // A client that disconnects mid-body ends the request without an 'end', and a pipe then leaves
  // busboy (and the file stream being read) waiting forever, holding the upload's transaction open.
  req.once("close", () => {
    if (req.readableEnded) return;
    const e = fail.invalidRequest("The request ended before its body was complete.");
    rejectFile(e);
    rejectFields(e);
    bb.destroy(e);
  });
  req.pipe(bb);
  return {
    file,
    fields,
    seen,
    stop() {
      req.unpipe(bb);
      bb.removeAllListeners("file");
    },
  };
}
