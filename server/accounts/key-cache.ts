import type { Knex } from "knex";
import type pg from "pg";
import type { Db } from "../../db/connection.js";
import type { ApiKeyRow } from "../../db/queries/api-keys.js";
import { listenForKeyChanges, type KeyChangeListener } from "./key-change-listener.js";

/** A key row as a presented secret's hash found it. */
export type FoundKey = ApiKeyRow & { via_previous: boolean };

interface Entry {
  row: FoundKey;
  /** This entry may answer until then; later the database is asked again. */
  until: number;
  touchedAt: number;
}

/** While change notifications arrive, an entry lives this long (a backstop, not the invalidation). */
export const LISTENING_TTL_MS = 10_000;
/** Without them (the listening connection is down or not up yet), revocation must still bite within 1 s. */
export const UNLISTENED_TTL_MS = 500;
const MAX_ENTRIES = 10_000;
const TOUCH_EVERY_MS = 60_000;

/**
 * Key lookups cached in process, by the SHA-256 hash the database stores (never by the secret).
 *
 * Why LISTEN/NOTIFY rather than a version check: revoking or rotating a key NOTIFYs in the same
 * transaction, PostgreSQL delivers it to every API process only after the commit, so invalidation is
 * immediate and costs nothing while keys don't change; a version check would cost every process a
 * query per interval (or per request) forever, for changes that are rare. The cost is one extra
 * connection per API process (LISTEN doesn't pass through a transaction-mode pooler; point the
 * API at PostgreSQL or a session-mode pooler). When that connection is lost, notifications can be
 * missed, so the cache is emptied and entries live at most UNLISTENED_TTL_MS until it is back.
 *
 * A lookup that finds nothing is never cached, and what is cached is the row, not a verdict: every
 * request re-checks environment, revocation, expiry and the previous secret's grace period.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation, so a lookup that raced one doesn't store what it read before it. */
  private generation = 0;
  private listening = false;
  private listener: KeyChangeListener | null = null;

  /** Starts listening on a connection of its own; `stopWhen` tells it its database handle is gone. */
  listen(connection: string | pg.ClientConfig, stopWhen: () => boolean): void {
    this.listener ??= listenForKeyChanges(
      connection,
      {
        onChange: (keyId) => this.forgetKey(keyId),
        onListening: (up) => {
          // Notifications sent while we weren't listening are lost: start over either way.
          this.listening = up;
          this.clear();
        },
      },
      stopWhen,
    );
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** The generation to pass to `store` for a lookup starting now. */
  begin(): number {
    return this.generation;
  }

  get(hash: string, now = Date.now()): FoundKey | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.row;
  }

  /** Keeps a row found by `hash`, unless an invalidation happened since `generation` was taken. */
  store(hash: string, row: FoundKey, generation: number, now = Date.now()): void {
    if (generation !== this.generation) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(hash, { row, until: now + (this.listening ? LISTENING_TTL_MS : UNLISTENED_TTL_MS), touchedAt: now });
  }

  /** True at most once a minute per cached key: when to record its use in `last_used_at`. */
  shouldTouch(hash: string, now = Date.now()): boolean {
    const e = this.entries.get(hash);
    if (!e) return true;
    if (now - e.touchedAt < TOUCH_EVERY_MS) return false;
    e.touchedAt = now;
    return true;
  }

  /** Drops every entry of a key (its current and previous secret). */
  forgetKey(keyId: string): void {
    this.generation++;
    for (const [hash, e] of this.entries) if (e.row.id === keyId) this.entries.delete(hash);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}

const caches = new WeakMap<Db, KeyCache>();

/** A knex handle whose pool was destroyed (knex sets `client.pool` to undefined). */
const destroyed = (db: Db) => !(db.client as { pool?: unknown }).pool;

/** The key cache of a database handle: one per process and database, listening from first use. */
export function keyCacheFor(db: Db): KeyCache {
  let cache = caches.get(db);
  if (cache) return cache;
  cache = new KeyCache();
  caches.set(db, cache);
  const connection = (db.client as { config?: Knex.Config }).config?.connection;
  // A connection given as a function can't be reused; such a handle runs on the short TTL alone.
  if (typeof connection === "string" || (connection && typeof connection === "object")) {
    cache.listen(connection as string | pg.ClientConfig, () => destroyed(db));
  }
  return cache;
}
