/**
 * Whether this process is shutting down. Set once, by the signal handler (shutdown.ts); read by
 * /readyz (not ready from that moment, so a load balancer takes the instance out) and by the HTTP
 * app (new requests are refused while the ones in flight finish).
 */
export class DrainState {
  #since: Date | null = null;

  get draining(): boolean {
    return this.#since !== null;
  }

  /** When draining began, or null. */
  get since(): Date | null {
    return this.#since;
  }

  start(): void {
    this.#since ??= new Date();
  }
}
