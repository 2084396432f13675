/**
 * The one way a test waits for something: poll `check` until it returns a value (anything but
 * undefined), or fail once `timeoutMs` has passed, naming `what` was awaited — so a hang reads as
 * "timed out … waiting for the batch to end", not as a bare test timeout. Both the deadline and the
 * description are required, so no polling loop can go without them. A throw from `check` (an
 * assertion on an intermediate state, say) fails at once: an invariant broken mid-wait won't heal.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${Date.now() - started} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}
