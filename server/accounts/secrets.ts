import { hash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Uniform base62 text from rejection-sampled random bytes (no modulo bias). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export type Environment = "live" | "test";

/** A new API key secret: `br_live_…` or `br_test_…` with 192 bits of randomness. */
export function newKeySecret(environment: Environment): string {
  return `br_${environment}_${randomBase62(32)}`;
}

/** Keys carry 192 random bits, so a fast unsalted hash is enough to make a stolen table useless. */
export function hashSecret(secret: string): string {
  return hash("sha256", secret, "hex"); // one-shot: every authenticated request hashes its key
}

/** The part of a key shown in lists so a person can tell keys apart: "br_live_AbCd". */
export function visiblePrefix(secret: string): string {
  const underscore = secret.indexOf("_", secret.indexOf("_") + 1);
  return secret.slice(0, underscore + 5);
}

/** The environment a presented secret claims by its prefix; legacy `ob_live_` keys are live keys. */
export function environmentOfSecret(secret: string): Environment | null {
  if (secret.startsWith("br_live_") || secret.startsWith("ob_live_")) return "live";
  if (secret.startsWith("br_test_")) return "test";
  return null;
}

const scryptAsync = promisify(scrypt) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [, salt, hash] = stored.split("$");
  if (!salt || !hash) return false;
  const actual = await scryptAsync(password, Buffer.from(salt, "base64"), 32);
  return timingSafeEqual(actual, Buffer.from(hash, "base64"));
}
