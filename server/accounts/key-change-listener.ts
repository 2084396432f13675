import pg from "pg";
import { KEY_CHANGES_CHANNEL } from "../../db/queries/api-keys.js";

export interface KeyChangeHandlers {
  /** A key's secret, scopes, expiry or revocation changed (the payload is its id). */
  onChange(keyId: string): void;
  /** The listening connection came up (LISTEN in effect) or went down (notifications may be lost). */
  onListening(up: boolean): void;
}

export interface KeyChangeListener {
  stop(): Promise<void>;
}

/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = "batchrouter-key-listener";
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * Holds one connection of its own LISTENing for key changes (not one of the pool's: it is held for
 * the life of the process). When the connection fails it reports `onListening(false)` and reconnects
 * with backoff until `stop()` — or until `stopWhen()` says the owner is gone (checked every second).
 */
export function listenForKeyChanges(
  connection: string | pg.ClientConfig,
  handlers: KeyChangeHandlers,
  stopWhen: () => boolean,
): KeyChangeListener {
  let stopped = false;
  let client: pg.Client | null = null;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer: NodeJS.Timeout | null = null;

  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    handlers.onListening(false);
    void c.end().catch(() => undefined);
    if (!stopped) schedule();
  };

  const schedule = () => {
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, retryMs);
    retryTimer.unref();
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
  };

  const connect = async () => {
    if (stopped || stopWhen()) return void stop();
    const c = new pg.Client(
      typeof connection === "string"
        ? { connectionString: connection, application_name: LISTENER_APPLICATION_NAME }
        : // knex keeps the password non-enumerable (out of logs), so a spread alone would drop it.
          { ...connection, password: connection.password, application_name: LISTENER_APPLICATION_NAME },
    );
    c.on("error", () => lost(c));
    c.on("end", () => lost(c));
    c.on("notification", (n) => {
      if (n.channel === KEY_CHANGES_CHANNEL && n.payload) handlers.onChange(n.payload);
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    } catch {
      if (client === c) {
        client = null;
        void c.end().catch(() => undefined);
        if (!stopped) schedule();
      }
      return;
    }
    if (stopped || client !== c) return;
    // The process is kept alive by what it serves, never by this connection.
    (c as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    retryMs = FIRST_RETRY_MS;
    handlers.onListening(true);
  };

  const watchdog = setInterval(() => {
    if (stopWhen()) void stop();
  }, 1000);
  watchdog.unref();

  async function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(watchdog);
    if (retryTimer) clearTimeout(retryTimer);
    const c = client;
    client = null;
    if (c) {
      handlers.onListening(false);
      await c.end().catch(() => undefined);
    }
  }

  void connect();
  return { stop };
}
