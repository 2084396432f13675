/**
 * A batch of JSON texts appended in place into one buffer, joined by newlines (a JSON text has
 * none): one allocation per batch rather than one per line — the per-line buffers of a
 * 1,000,000-line upload kept ~100 MB waiting for full collections. Texts are copied in, so a source
 * may reuse its buffers.
 */
export class JoinedTexts {
  private buf: Buffer;
  private len = 0;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  append(text: Buffer | string): void {
    const size = typeof text === "string" ? Buffer.byteLength(text) : text.length;
    const need = this.len + (this.len > 0 ? 1 : 0) + size;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    if (this.len > 0) this.buf[this.len++] = 10;
    this.len += typeof text === "string" ? this.buf.write(text, this.len) : text.copy(this.buf, this.len);
  }

  /** The texts so far, as a buffer the caller owns; the next batch starts in a fresh buffer sized like this one. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(this.initialBytes, Math.ceil(this.len * 1.25)));
    this.len = 0;
    return out;
  }

  clear(): void {
    this.len = 0;
  }
}
