/**
 * Reading PostgreSQL's binary COPY format (docs: "COPY — Binary Format") for queries of one column:
 * each value arrives as its bytes, no text decoding and no row objects — for writing gigabytes of
 * query output straight into a file.
 */

const HEADER_BYTES = 19; // signature (11), flags (4), extension length (4, always 0 from the server)
/** Recycled batches kept at most: as many as can wait for a reader, and one it holds. */
const MAX_SPARE = 4;

/**
 * Copies the values of one-column binary COPY data into batches of about `batchBytes`, handing
 * each full batch to `emit`. Each value is copied once, from the chunk it arrives in straight into
 * the batch being filled — a value or header cut between chunks included — so reading a gigabyte
 * allocates a gigabyte of batches and nothing else.
 */
export class ValueBatcher {
  private out: Buffer;
  private outBytes = 0;
  // A header (the file's, then each row's field count and length) may be cut between chunks: its
  // bytes gather here until whole. `need` is how many bytes of the current header are wanted.
  private readonly head = Buffer.alloc(HEADER_BYTES);
  private headBytes = 0;
  private need = HEADER_BYTES;
  private inFileHeader = true;
  private valueLeft = 0; // bytes of the current value still to copy
  /** The trailer was read: nothing follows. */
  private ended = false;
  /** Batches given back (recycle) to be filled again, instead of new ones. */
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly batchBytes: number,
    private readonly emit: (batch: Buffer) => void,
  ) {
    this.out = Buffer.allocUnsafe(batchBytes);
  }

  /** Takes the bytes chunk[from, to) of the COPY data. */
  push(chunk: Buffer, from = 0, to = chunk.length): void {
    let at = from;
    while (at < to && !this.ended) {
      if (this.valueLeft > 0) {
        const n = Math.min(this.valueLeft, to - at);
        if (this.outBytes + n > this.out.length) {
          this.flush();
          if (n > this.out.length) {
            this.recycle(this.out); // empty now: it waits for the next batch of the usual size
            this.out = Buffer.allocUnsafe(n);
          }
        }
        chunk.copy(this.out, this.outBytes, at, at + n);
        this.outBytes += n;
        at += n;
        this.valueLeft -= n;
        continue;
      }
      const n = Math.min(this.need - this.headBytes, to - at);
      chunk.copy(this.head, this.headBytes, at, at + n);
      this.headBytes += n;
      at += n;
      if (this.headBytes < this.need) return; // the rest of the header comes with the next chunk
      this.headerDone();
    }
  }

  /** Hands over what the batch being filled holds. */
  flush(): void {
    if (this.outBytes === 0) return;
    this.emit(this.out.subarray(0, this.outBytes));
    this.out = this.spare.pop() ?? Buffer.allocUnsafe(this.batchBytes);
    this.outBytes = 0;
  }

  /**
   * Takes back a batch this batcher emitted, to fill again: its holder is done with it. A batch
   * made larger for one big value is left to the garbage collector.
   */
  recycle(batch: Buffer): void {
    const whole = batch.buffer;
    if (whole.byteLength !== this.batchBytes || batch.byteOffset !== 0 || this.spare.length >= MAX_SPARE) return;
    this.spare.push(Buffer.from(whole, 0, this.batchBytes));
  }

  private headerDone(): void {
    this.headBytes = 0;
    if (this.inFileHeader) {
      this.inFileHeader = false;
      this.need = 2; // a row's field count first: the trailer is just -1
      return;
    }
    if (this.need === 2) {
      const fields = this.head.readInt16BE(0);
      if (fields === -1) {
        this.ended = true;
        return;
      }
      if (fields !== 1) throw new Error(`binary COPY: expected 1 column, got ${fields}`);
      this.need = 6; // …then its length (the two bytes read stay at the front of `head`)
      this.headBytes = 2;
      return;
    }
    this.valueLeft = this.head.readInt32BE(2);
    if (this.valueLeft < 0) throw new Error("binary COPY: a NULL value where a line was expected");
    this.need = 2;
    if (this.outBytes >= this.batchBytes) this.flush();
  }
}
