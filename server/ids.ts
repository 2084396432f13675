import { randomFillSync } from "node:crypto";
import { monotonicFactory } from "ulidx";

// ulidx draws one random number per character of a new millisecond's id, each a crypto call of its
// own; reading them from a pool of crypto bytes filled 4 kB at a time costs a fraction of that
// (ids are minted per request: the request id) and is just as random.
const pool = Buffer.alloc(4096);
let at = pool.length;
function pooledRandom(): number {
  if (at + 4 > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const v = pool.readUInt32LE(at);
  at += 4;
  return v / 2 ** 32;
}

const ulid = monotonicFactory(pooledRandom);

export type IdPrefix = "org" | "usr" | "key" | "qlock" | "bat" | "wu" | "file" | "evt" | "led" | "chk" | "fb" | "run" | "req";

/** A random, URL-safe id that sorts by creation time (a ULID behind the resource's prefix). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}
