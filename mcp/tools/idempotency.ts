import { createHash } from "node:crypto";
import { canonicalJson } from "../../server/canonical-json.js";
import { PlatformError, type Idempotent, type Json } from "../platform.js";

// Enough links to get past a few stored failures; past that the agent is told to pass its own key.
const MAX_CHAIN = 20;

/**
 * Runs a POST under an Idempotency-Key: the caller's, or one derived from a sha256 of the content,
 * so a model that repeats a call (a retry, a lost answer) gets the first answer back instead of a
 * second batch.
 *
 * The API also stores some failures under a key and replays them for 24 h (402, 404, 409, 422 —
 * outcomes, not validation errors). With a derived key that would pin a fixable failure to the
 * content: after adding credits, resubmitting the same items would replay the old 402 all day. So
 * for a derived key only, a *replayed failure* moves on to the next key of a chain
 * (`key`, `key-1`, `key-2`, …), which asks again. Failures create nothing, so skipping past them
 * can't double any work, and a replayed success still ends the walk with the first batch.
 */
export async function withDerivedKey(
  prefix: string,
  content: Json,
  given: string | undefined,
  attempt: (key: string) => Promise<Idempotent>,
): Promise<Idempotent & { idempotency_key: string }> {
  if (given) return { ...(await attempt(given)), idempotency_key: given };
  const base = `mcp-${prefix}-${createHash("sha256").update(canonicalJson(content)).digest("hex").slice(0, 48)}`;
  for (let n = 0; ; n++) {
    const key = n === 0 ? base : `${base}-${n}`;
    try {
      return { ...(await attempt(key)), idempotency_key: key };
    } catch (err) {
      if (!(err instanceof PlatformError && err.replayed) || n + 1 >= MAX_CHAIN) throw err;
    }
  }
}
