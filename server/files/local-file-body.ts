import type { FileHandle } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";

const CHUNK = 1024 * 1024;

/**
 * An open file as a response body that, when piped (Koa pipes a stream body into the response),
 * sends the file through two buffers it reuses: each is refilled only once the response has
 * called back for the write that sent it, so the socket is done with those bytes.
 *
 * Why not a plain file stream: it reads every megabyte into a new buffer, and the used ones wait
 * for V8 to collect them, which it does only once ~64 MB of them have piled up outside its heap.
 * Serving a million results' 1.7 GB file, that pile was 60–90 MB of the platform's peak memory.
 *
 * Read any other way (async iteration, `read()`, `on('data')`) it is an ordinary stream with a
 * fresh buffer per chunk, since such a reader may keep them. The handle closes when the body ends,
 * fails, or is destroyed (Koa destroys it when the response closes, say the client went away).
 */
export class LocalFileBody extends Readable {
  private position = 0;
  private pumping = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    // Read any other way while being sent, the two readers would split the file between them.
    if (this.pumping) return void this.destroy(new Error("the file is being sent: it can't also be read"));
    const left = this.size - this.position;
    if (left <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
    this.handle.read(buf, 0, buf.length, this.position).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) return this.destroy(new Error("the file ended before its recorded size"));
        this.position += bytesRead;
        this.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T {
    if (this.pumping) {
      this.destroy(new Error("the file is being sent already: it can't be piped twice"));
      return dest;
    }
    // Started as an ordinary stream already: stay one.
    if (this.readableFlowing !== null || this.position > 0) return super.pipe(dest, opts);
    this.pumping = true;
    const target = dest as unknown as Writable;
    // A response that failed or closed under a write is a client gone, not this body's failure.
    this.pump(target, opts?.end !== false).catch((err: Error) => this.destroy(target.destroyed ? undefined : err));
    return dest;
  }

  private async pump(dest: Writable, end: boolean): Promise<void> {
    // The response may close with writes outstanding: it then never calls them back.
    let closed = false;
    let onClose = () => {};
    const closing = new Promise<void>((resolve) => {
      onClose = () => {
        closed = true;
        resolve();
      };
    });
    dest.once("close", onClose);
    this.once("close", onClose);
    const buffers = [Buffer.allocUnsafe(Math.min(CHUNK, this.size)), Buffer.allocUnsafe(Math.min(CHUNK, this.size))];
    const inFlight: (Promise<void> | undefined)[] = [undefined, undefined];
    try {
      for (let i = 0; this.position < this.size && !closed && !this.destroyed; i ^= 1) {
        // This buffer's last write must be done before it is filled again.
        if (inFlight[i]) await Promise.race([inFlight[i], closing]);
        if (closed || this.destroyed) break;
        const buf = buffers[i]!;
        const { bytesRead } = await this.handle.read(buf, 0, Math.min(buf.length, this.size - this.position), this.position);
        if (bytesRead === 0) throw new Error("the file ended before its recorded size");
        this.position += bytesRead;
        inFlight[i] = new Promise<void>((resolve, reject) =>
          dest.write(buf.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())),
        );
        // A failed write also closes the response; keep its rejection from going unhandled meanwhile.
        inFlight[i]!.catch(() => undefined);
      }
      if (!closed) await Promise.race([Promise.all(inFlight), closing]);
      if (end && !closed) dest.end();
    } finally {
      dest.off("close", onClose);
      this.off("close", onClose);
    }
    if (closed || this.destroyed) return void this.destroy();
    // Ends as a stream does ('end', then 'close', which closes the file): stream.pipeline, as Koa
    // pipes, ends the response on 'end' and takes a 'close' without one for a failure.
    this.push(null);
    this.resume();
  }
}
