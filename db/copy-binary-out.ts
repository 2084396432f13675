import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { Db } from "./connection.js";

/**
 * Reading PostgreSQL's binary COPY format (docs: "COPY — Binary Format") for queries of one column:
 * each value arrives as its bytes, no text decoding and no row objects — for writing gigabytes of
 * query output straight into a file.
 */

const HEADER_BYTES = 19; // signature (11), flags (4), extension length (4, always 0 from the server)

/**
 * Yields the bytes of each row's single value, in row order, in batches of about `batchBytes`. Each
 * value is copied once, from the socket's chunk straight into the batch being filled — a value cut
 * between chunks included — so reading a gigabyte allocates a gigabyte of batches and nothing else
 * (re-joining each chunk's unread tail with the next chunk, as this did before, allocated it twice
 * more: ~100 MB of dead buffers waiting for V8 while a million results were written).
 */
export async function* singleColumnValues(stream: AsyncIterable<Buffer>, batchBytes = 1024 * 1024): AsyncGenerator<Buffer> {
  let out = Buffer.allocUnsafe(batchBytes);
  let outBytes = 0;
  // A header (the file's, then each row's field count and length) may be cut between chunks: its
  // bytes gather here until whole. `need` is how many bytes of the current header are wanted.
  const head = Buffer.alloc(HEADER_BYTES);
  let headBytes = 0;
  let need = HEADER_BYTES;
  let inFileHeader = true;
  let valueLeft = 0; // bytes of the current value still to copy
  let ended = false;
  for await (const chunk of stream) {
    let at = 0;
    while (at < chunk.length && !ended) {
      if (valueLeft > 0) {
        const n = Math.min(valueLeft, chunk.length - at);
        if (outBytes + n > out.length) {
          if (outBytes > 0) yield out.subarray(0, outBytes);
          out = Buffer.allocUnsafe(Math.max(batchBytes, n));
          outBytes = 0;
        }
        chunk.copy(out, outBytes, at, at + n);
        outBytes += n;
        at += n;
        valueLeft -= n;
        continue;
      }
      const n = Math.min(need - headBytes, chunk.length - at);
      chunk.copy(head, headBytes, at, at + n);
      headBytes += n;
      at += n;
      if (headBytes < need) break; // the rest of the header is in the next chunk
      headBytes = 0;
      if (inFileHeader) {
        inFileHeader = false;
        need = 2; // a row's field count first: the trailer is just -1
        continue;
      }
      if (need === 2) {
        const fields = head.readInt16BE(0);
        if (fields === -1) {
          ended = true; // the trailer: nothing follows
          break;
        }
        if (fields !== 1) throw new Error(`binary COPY: expected 1 column, got ${fields}`);
        need = 6; // …then its length (the two bytes read stay at the front of `head`)
        headBytes = 2;
        continue;
      }
      valueLeft = head.readInt32BE(2);
      if (valueLeft < 0) throw new Error("binary COPY: a NULL value where a line was expected");
      need = 2;
      if (outBytes >= batchBytes) {
        yield out.subarray(0, outBytes);
        out = Buffer.allocUnsafe(batchBytes);
        outBytes = 0;
      }
    }
  }
  if (outBytes > 0) yield out.subarray(0, outBytes);
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
 */
export async function* copyOutValues(db: Db, query: string, settings: readonly string[] = []): AsyncGenerator<Buffer> {
  const trx = await db.transaction();
  let stream: Readable | undefined;
  let connection: PgConnection | undefined;
  let ended = false;
  try {
    for (const s of settings) await trx.raw(s);
    connection = await (trx as unknown as { client: { acquireConnection(): Promise<PgConnection> } }).client.acquireConnection();
    stream = connection.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)) as unknown as Readable;
    // Not destroyed when the reader stops early: pg's client only moves on to its next query once
    // the COPY has ended one way or the other (the finally below sees to that).
    yield* singleColumnValues(stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>);
    ended = true;
    await trx.commit();
  } finally {
    if (!ended) {
      if (stream && !stream.readableEnded && connection) {
        // Stopped mid-COPY (the consumer failed or gave up): cancelled, it ends with an error rather
        // than run on; the rest is drained, and the rollback queues behind it on this connection.
        await cancelBackend(connection).catch(() => undefined);
        stream.resume();
        await finished(stream).catch(() => undefined);
      }
      await trx.rollback().catch(() => undefined);
    }
  }
}
