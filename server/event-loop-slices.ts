/**
 * Long loops of the worker give the event loop back now and then. `npm start` runs the API and the
 * worker in one process, and an async loop whose awaits all resolve at once (an async generator
 * yielding results, a write that finished while the next chunk was built) never lets I/O in: every
 * HTTP request waits for the whole loop. Collecting a 10,000-item unit held polls back for up to
 * 0.7 s that way during a million-item batch.
 *
 * `await slices.pause()` in the loop's body: it returns at once until `sliceMs` have passed since
 * the last pause, then waits one turn of the event loop (setImmediate: after pending I/O callbacks,
 * so requests that arrived meanwhile are read and answered first).
 */
export class EventLoopSlices {
  private since = performance.now();

  constructor(private readonly sliceMs = 10) {}

  pause(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.since < this.sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.since = performance.now();
        resolve();
      }),
    );
  }
}
