import { FINISHED_BATCH_TTL_MS } from "../batches/finished-batch-cache.js";
import { isTerminal } from "../batches/statuses.js";
import { PreparedJson } from "./prepared-json.js";

/** Batches remembered as ended; the oldest go first past this. */
const MAX_ENDED = 10_000;
/** An ended batch's last answer stands in for a read under way for at most this long after it was read. */
const STAND_IN_MS = 5_000;

interface Read<Row> {
  row: Row;
  body: unknown;
}

interface Ended<Row> {
  row: Row;
  answer: PreparedJson;
  /** When the read that produced `row` was asked for, and that read. */
  at: number;
  op: Promise<Read<Row>>;
  /** Set once the service gave the same row again: it reuses that read (the batch is finished) until then. */
  reusedUntil: number;
}

/**
 * The poll's answers as bytes. A poll's body is a function of the row it was read from, so its
 * serialisation and ETag are made once per read, not per request. The service reuses a finished
 * batch's read, row included, for FINISHED_BATCH_TTL_MS; once it hands back a row it gave before,
 * this answers from that row's bytes until the reuse ends, as the service would. And polls of a
 * batch that had ended at its last read don't queue behind its re-read: one poll reads, the others
 * meanwhile get the answer of the read before. Nothing a client does can change an ended batch (a
 * cancel answers 409), so that answer is what the poll would have read but for its age — a read's
 * time — which keeps the tail latency of many clients polling one batch off the database's. A
 * running batch is read on every poll, as before.
 */
export class PollAnswers<Row extends { status: string }> {
  private readonly prepared = new WeakMap<Row, PreparedJson>();
  private readonly reading = new Map<string, Promise<Read<Row>>>();
  private readonly ended = new Map<string, Ended<Row>>();

  async answer(key: string, read: () => Promise<Read<Row>>): Promise<PreparedJson> {
    const now = Date.now();
    const last = this.ended.get(key);
    if (last && now < last.reusedUntil) return last.answer;
    let op = this.reading.get(key);
    if (op && last && now - last.at < STAND_IN_MS) return last.answer;
    if (!op) {
      op = read();
      if (last) {
        this.reading.set(key, op);
        op.then(
          () => this.reading.delete(key),
          () => this.reading.delete(key),
        );
      }
    }
    const { row, body } = await op;
    return this.prepare(key, row, body, now, op);
  }

  private prepare(key: string, row: Row, body: unknown, askedAt: number, op: Promise<Read<Row>>): PreparedJson {
    let answer = this.prepared.get(row);
    if (!answer) {
      answer = PreparedJson.of(body);
      this.prepared.set(row, answer);
    }
    if (!isTerminal(row.status)) {
      this.ended.delete(key);
      return answer;
    }
    const known = this.ended.get(key);
    if (known?.row === row && known.op !== op) {
      // The same row from two reads: the service reuses that read for FINISHED_BATCH_TTL_MS from
      // after it was made, so that long from before it was asked for (`at`) is within the reuse.
      known.reusedUntil = known.at + FINISHED_BATCH_TTL_MS;
    } else if (!known || known.at <= askedAt) {
      if (!known && this.ended.size >= MAX_ENDED) this.ended.delete(this.ended.keys().next().value!);
      this.ended.set(key, { row, answer, at: askedAt, op, reusedUntil: 0 });
    }
    return answer;
  }
}
