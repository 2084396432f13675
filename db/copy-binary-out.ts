import type { Socket } from "node:net";
import pg from "pg";
import { ValueBatcher } from "./copy-binary-values.js";
import type { Db } from "./connection.js";

// Protocol message codes (docs: "Frontend/Backend Protocol", "Message Formats").
const COPY_OUT_RESPONSE = 0x48; // H
const COPY_DATA = 0x64; // d
// May come between CopyData messages; skipped, as pg-copy-streams skipped them.
const INTERSPERSED = new Set([0x4e /* N: notice */, 0x53 /* S: parameter status */, 0x41 /* A: notification */]);

/** Batches waiting for the reader beyond which the socket is paused (PostgreSQL then waits on its send). */
const PAUSE_AT = 2;

/**
 * `COPY … TO STDOUT (FORMAT binary)` as a pg submittable that reads the socket itself. From the
 * query on it takes the socket's data from pg's parser; it walks the protocol's messages and hands
 * CopyData payloads to a ValueBatcher, which copies each value once into ~1 MB batches. At the first
 * message that is not copy data (CopyDone, an ErrorResponse) it gives the socket back to pg with the
 * bytes from that message on, and pg reports the end (handleCommandComplete, handleError,
 * handleReadyForQuery) as for any query. Replaces pg-copy-streams, which re-joined buffered socket
 * chunks (Readable.read()) and then every chunk's messages — two more copies of a gigabyte-sized
 * result file, and most of this process's CPU while writing it.
 */
export class BinaryCopyOut implements AsyncIterable<Buffer> {
  private socket: Socket | null = null;
  private pgOnData: ((chunk: Buffer) => void) | null = null;
  private readonly ready: Buffer[] = [];
  private readonly batcher: ValueBatcher;
  // Message framing: a code byte and a length (4 bytes, counting itself), then the body.
  private readonly head = Buffer.alloc(5);
  private headBytes = 0;
  private code = 0;
  private bodyLeft = 0;
  private discarding = false;
  private error: Error | null = null;
  private over = false;
  private wake: (() => void) | null = null;
  private readonly onData = (chunk: Buffer) => this.take(chunk);

  /**
   * `lend`: each batch yielded is the reader's only until it asks for the next, when its buffer is
   * taken back and filled again — no garbage per megabyte, for a reader that is done with a batch
   * (written it out) before it asks for another. Otherwise every batch is the reader's to keep.
   */
  constructor(
    private readonly text: string,
    batchBytes = 1024 * 1024,
    private readonly lend = false,
  ) {
    this.batcher = new ValueBatcher(batchBytes, (b) => {
      if (!this.discarding) this.ready.push(b);
    });
  }

  /** True once PostgreSQL has ended the query (ReadyForQuery) or the connection failed. */
  get finished(): boolean {
    return this.over;
  }

  /** Called by pg when the query's turn comes. */
  submit(connection: { stream: Socket; query(text: string): void }): void {
    const socket = connection.stream;
    const listeners = socket.listeners("data") as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1) throw new Error(`binary COPY: expected pg's one data listener, found ${listeners.length}`);
    this.socket = socket;
    this.pgOnData = listeners[0]!;
    socket.removeListener("data", this.pgOnData);
    socket.on("data", this.onData);
    connection.query(this.text);
  }

  /** Drops whatever is still to come (the reader gave up; the query is being cancelled). */
  discard(): void {
    this.discarding = true;
    this.ready.length = 0;
    this.socket?.resume();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const batch = this.ready.shift();
      if (batch) {
        if (this.ready.length < PAUSE_AT && this.pgOnData !== null) this.socket?.resume();
        yield batch;
        // The reader asked for the next batch: it is done with this one.
        if (this.lend) this.batcher.recycle(batch);
        continue;
      }
      if (this.error) throw this.error;
      if (this.over) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private take(chunk: Buffer): void {
    let at = 0;
    try {
      while (at < chunk.length) {
        if (this.bodyLeft > 0) {
          const n = Math.min(this.bodyLeft, chunk.length - at);
          if (this.code === COPY_DATA) this.batcher.push(chunk, at, at + n);
          this.bodyLeft -= n;
          at += n;
          continue;
        }
        if (this.headBytes === 0) {
          const code = chunk[at]!;
          if (code !== COPY_OUT_RESPONSE && code !== COPY_DATA && !INTERSPERSED.has(code)) {
            // CopyDone, an ErrorResponse, …: pg takes it from here.
            this.giveBack(chunk.subarray(at));
            return;
          }
        }
        const n = Math.min(5 - this.headBytes, chunk.length - at);
        chunk.copy(this.head, this.headBytes, at, at + n);
        this.headBytes += n;
        at += n;
        if (this.headBytes < 5) break;
        this.headBytes = 0;
        this.code = this.head[0]!;
        this.bodyLeft = this.head.readInt32BE(1) - 4;
      }
    } catch (err) {
      // Data that isn't what COPY promised: fail the reader; the caller cancels the query.
      this.error = err as Error;
      this.discarding = true;
    }
    if (this.ready.length >= PAUSE_AT && !this.discarding) this.socket?.pause();
    this.notify();
  }

  private giveBack(rest: Buffer): void {
    const socket = this.socket!;
    const pgOnData = this.pgOnData!;
    this.pgOnData = null;
    this.batcher.flush();
    socket.removeListener("data", this.onData);
    socket.on("data", pgOnData);
    pgOnData(rest);
    socket.resume();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  // pg's callbacks for the active query.
  handleError(err: Error): void {
    this.error ??= err;
    // A failed connection sends no ReadyForQuery: the reader must not wait for one.
    this.over = true;
    this.notify();
  }
  handleReadyForQuery(): void {
    this.over = true;
    this.notify();
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
}

type PgConnection = pg.Client & { connectionParameters: pg.ClientConfig; processID: number };

/** Cancels what `connection` runs, from a short-lived connection of its own (the pool's may all be taken). */
async function cancelBackend(connection: PgConnection): Promise<void> {
  const canceller = new pg.Client(connection.connectionParameters);
  await canceller.connect();
  try {
    await canceller.query("SELECT pg_cancel_backend($1)", [connection.processID]);
  } finally {
    await canceller.end();
  }
}

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary)` for a one-column query in a transaction of its own,
 * after `settings` (SET LOCAL statements), and yields the values' bytes. COPY takes no bind
 * parameters: `query` must come with its literals already escaped (knex's `toQuery()`). A consumer
 * that stops early cancels the query on the server, so the connection goes back to the pool clean.
 * `lend`: each yielded buffer is valid only until the next is asked for (BinaryCopyOut).
 */
export async function* copyOutValues(
  db: Db,
  query: string,
  settings: readonly string[] = [],
  opts: { lend?: boolean } = {},
): AsyncGenerator<Buffer> {
  const trx = await db.transaction();
  let copy: BinaryCopyOut | undefined;
  let connection: PgConnection | undefined;
  let ended = false;
  try {
    for (const s of settings) await trx.raw(s);
    connection = await (trx as unknown as { client: { acquireConnection(): Promise<PgConnection> } }).client.acquireConnection();
    copy = new BinaryCopyOut(`COPY (${query}) TO STDOUT (FORMAT binary)`, undefined, opts.lend);
    // pg's types know submittables only as Readable-like; it calls submit() and the handle* callbacks.
    connection.query(copy as unknown as pg.Submittable);
    yield* copy;
    ended = true;
    await trx.commit();
  } finally {
    if (!ended) {
      if (copy && !copy.finished && connection) {
        // Stopped mid-COPY (the consumer failed or gave up): cancelled, it ends with an error rather
        // than run on; the rest is dropped, and the rollback queues behind it on this connection.
        await cancelBackend(connection).catch(() => undefined);
        copy.discard();
      }
      await trx.rollback().catch(() => undefined);
    }
  }
}
