import { monotonicFactory } from "ulidx";

const ulid = monotonicFactory();

export type IdPrefix = "org" | "usr" | "key" | "qlock" | "bat" | "wu" | "file" | "evt" | "led" | "chk" | "fb" | "run" | "req";

/** A random, URL-safe id that sorts by creation time (a ULID behind the resource's prefix). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}
