import { hash } from "node:crypto";

// The simulator must give the same answer for the same inputs in any process, so every "random"
// choice it makes comes from a hash of stable inputs rather than from Math.random.

const SEP = "\u0000";

/** Hex SHA-256 of the parts joined by NUL (NUL keeps ["ab","c"] and ["a","bc"] apart). */
export function hashHex(...parts: (string | number)[]): string {
  // The one-shot form: a third of createHash().update().digest()'s cost (~0.25 µs), the simulator
  // hashing a few times per item.
  return hash("sha256", parts.join(SEP), "hex");
}

/** A uniform number in [0, 1) derived from the parts: 48 bits of their hash. */
export function hash01(...parts: (string | number)[]): number {
  return Number.parseInt(hashHex(...parts).slice(0, 12), 16) / 2 ** 48;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1) — fast enough to fill thousands of embedding dimensions. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** mulberry32 seeded by the first 32 bits of a hex hash (hashHex). */
export const seededRandom = (seedHex: string): (() => number) => mulberry32(Number.parseInt(seedHex.slice(0, 8), 16));
