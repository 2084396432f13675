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

/** Yields the bytes of each row's single value, in row order, in batches of about `batchBytes`. */
export async function* singleColumnValues(stream: AsyncIterable<Buffer>, batchBytes = 1024 * 1024): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let at = 0;
  let headerSeen = false;
  let out: Buffer[] = [];
  let outBytes = 0;
  for await (const chunk of stream) {
    pending = at < pending.length ? Buffer.concat([pending.subarray(at), chunk]) : chunk;
    at = 0;
    if (!headerSeen) {
      if (pending.length < HEADER_BYTES) continue;
      at = HEADER_BYTES;
      headerSeen = true;
    }
    for (;;) {
      if (pending.length - at < 2) break;
      const fields = pending.readInt16BE(at);
      if (fields === -1) {
        at = pending.length; // the trailer: nothing follows
        break;
      }
      if (fields !== 1) throw new Error(`binary COPY: expected 1 column, got ${fields}`);
      if (pending.length - at < 6) break;
      const len = pending.readInt32BE(at + 2);
      if (len < 0) throw new Error("binary COPY: a NULL value where a line was expected");
      if (pending.length - at < 6 + len) break;
      out.push(pending.subarray(at + 6, at + 6 + len));
      outBytes += len;
      at += 6 + len;
      if (outBytes >= batchBytes) {
        yield out.length === 1 ? out[0]! : Buffer.concat(out, outBytes);
        out = [];
        outBytes = 0;
      }
    }
  }
  if (outBytes > 0) yield out.length === 1 ? out[0]! : Buffer.concat(out, outBytes);
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
