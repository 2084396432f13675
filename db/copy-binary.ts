import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { Trx } from "./connection.js";

/**
 * PostgreSQL's binary COPY format (docs: "COPY — Binary Format"), for bulk writes where INSERT
 * costs too much. Binary rather than text: values go as their bytes — no escaping of the
 * backslashes JSON is full of, and no unescaping on the server.
 */

const HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]); // signature, flags, no extension
const TRAILER = Buffer.from([0xff, 0xff]); // a field count of -1
const INT4_OID = 23;

/** Builds binary-format rows into one growing buffer; `take()` hands them over and starts afresh. */
export class BinaryRows {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts a row of `fields` values; write exactly that many next. */
  row(fields: number): this {
    this.room(2);
    this.at = this.buf.writeInt16BE(fields, this.at);
    return this;
  }

  null(): this {
    this.room(4);
    this.at = this.buf.writeInt32BE(-1, this.at);
    return this;
  }

  /** The length prefix of a value whose bytes the caller sends itself (`BinaryCopy.textBytes`). */
  length(n: number): this {
    this.room(4);
    this.at = this.buf.writeInt32BE(n, this.at);
    return this;
  }

  int4(v: number): this {
    this.room(8);
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(v, this.at);
    return this;
  }

  /** text, varchar: UTF-8 (PostgreSQL checks the encoding). */
  text(v: string): this {
    const n = Buffer.byteLength(v);
    this.room(4 + n);
    this.at = this.buf.writeInt32BE(n, this.at);
    this.at += this.buf.write(v, this.at);
    return this;
  }

  /** jsonb from its JSON text: a version byte (1), then the text, which the server parses. */
  jsonb(json: string): this {
    const n = Buffer.byteLength(json);
    this.room(5 + n);
    this.at = this.buf.writeInt32BE(n + 1, this.at);
    this.buf[this.at++] = 1;
    this.at += this.buf.write(json, this.at);
    return this;
  }

  /** A one-dimensional int4[] without nulls. */
  int4Array(values: readonly number[]): this {
    const n = 20 + 8 * values.length; // ndim, has-nulls, element type, length, lower bound; then each element
    this.room(4 + n);
    let at = this.buf.writeInt32BE(n, this.at);
    at = this.buf.writeInt32BE(1, at);
    at = this.buf.writeInt32BE(0, at);
    at = this.buf.writeInt32BE(INT4_OID, at);
    at = this.buf.writeInt32BE(values.length, at);
    at = this.buf.writeInt32BE(1, at);
    for (const v of values) {
      at = this.buf.writeInt32BE(4, at);
      at = this.buf.writeInt32BE(v, at);
    }
    this.at = at;
    return this;
  }

  get bytes(): number {
    return this.at;
  }

  /** The rows written so far, as a buffer the caller owns. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.at);
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.at = 0;
    return out;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

/**
 * A binary COPY into one table on a transaction's own connection (a knex transaction's client hands
 * out the one connection it runs on), so the rows commit or roll back with everything else in it.
 * Build rows in `rows`, call `flush()` now and then (it sends them once past ~1 MB, waiting while
 * PostgreSQL is behind), then `end()`. `abort()` sends CopyFail, which ends the COPY so the
 * transaction can roll back. Nothing else may run on the transaction until the COPY has ended.
 */
export class BinaryCopy {
  readonly rows = new BinaryRows();
  private failure?: Error;

  private constructor(private readonly stream: Writable) {
    // Without a listener a failed COPY would crash the process; it is rethrown on the next call.
    stream.on("error", (e: Error) => (this.failure ??= e));
  }

  static async start(trx: Trx, table: string, columns: readonly string[], highWaterMark = 1024 * 1024): Promise<BinaryCopy> {
    const connection = await (
      trx as unknown as { client: { acquireConnection(): Promise<{ query(q: unknown): Writable }> } }
    ).client.acquireConnection();
    const stream = connection.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN (FORMAT binary)`, { highWaterMark }));
    stream.write(HEADER);
    return new BinaryCopy(stream);
  }

  /**
   * Ends the current row with a text value given as its UTF-8 bytes, sent as they are rather than
   * copied into the row buffer (for values of megabytes). The buffer must not change afterwards.
   */
  async textBytes(value: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.rows.length(value.length);
    this.stream.write(this.rows.take());
    if (!this.stream.write(value)) await drained(this.stream);
  }

  /** Sends the rows built so far if they pass `minBytes`. */
  async flush(minBytes = 1024 * 1024): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.rows.bytes < minBytes || this.rows.bytes === 0) return;
    if (!this.stream.write(this.rows.take())) await drained(this.stream);
  }

  /** Sends the rest and finishes; resolves with the number of rows PostgreSQL stored. */
  async end(): Promise<number> {
    await this.flush(0);
    this.stream.end(TRAILER);
    await finished(this.stream);
    return (this.stream as Writable & { rowCount?: number }).rowCount ?? 0;
  }

  async abort(): Promise<void> {
    if (this.stream.closed) return;
    this.stream.destroy();
    await finished(this.stream).catch(() => undefined);
  }
}

/** Waits for 'drain', or fails if the stream errors or closes first (a drain that never comes would hang the writer). */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off("drain", onDrain).off("error", done).off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(stream.errored ?? new Error("the stream closed while data was still being written"));
    stream.on("drain", onDrain).on("error", done).on("close", onClose);
  });
}
