import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "./config.js";

/**
 * The platform secret: BATCHROUTER_SECRET, or one generated once into the data directory (0600).
 * Every process of one deployment must share it (set BATCHROUTER_SECRET when scaling out), since
 * it signs artifact URLs and encrypts webhook secrets.
 */
export async function resolvePlatformSecret(config: Config): Promise<Buffer> {
  if (config.BATCHROUTER_SECRET) return createHash("sha256").update(config.BATCHROUTER_SECRET).digest();
  const file = path.join(config.BATCHROUTER_DATA_DIR, "platform-secret");
  try {
    return Buffer.from((await fs.readFile(file, "utf8")).trim(), "base64");
  } catch {
    await fs.mkdir(config.BATCHROUTER_DATA_DIR, { recursive: true });
    const secret = randomBytes(32);
    try {
      await fs.writeFile(file, secret.toString("base64"), { mode: 0o600, flag: "wx" });
      return secret;
    } catch {
      // Another process created it first: use theirs.
      return Buffer.from((await fs.readFile(file, "utf8")).trim(), "base64");
    }
  }
}

/** Sub-keys per purpose, so a key that signs URLs never also encrypts secrets. */
export function deriveKey(secret: Buffer, purpose: string): Buffer {
  return createHmac("sha256", secret).update(`batchrouter:${purpose}`).digest();
}

/** AES-256-GCM; the output carries its IV and tag: "v1.<iv>.<tag>.<ciphertext>" in base64url. */
export function encrypt(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", iv, cipher.getAuthTag(), data].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

export function decrypt(key: Buffer, sealed: string): string {
  const [v, iv, tag, data] = sealed.split(".");
  if (v !== "v1" || !iv || !tag || data === undefined) throw new Error("not a sealed value");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
}

export function hmacHex(key: Buffer | string, data: string): string {
  return createHmac("sha256", key).update(data).digest("hex");
}

/** Constant-time comparison of two hex or text signatures. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
