import { hashHex } from "./hash.js";
import type { OpenAiHttp } from "./openai-http.js";
import { classifyError } from "./retry-policy.js";

/**
 * Finding the provider batches an earlier submit of the same work unit already created. A submit
 * can be accepted by the provider and still never be recorded by us — the answer lost on the way
 * back, or the worker killed before its transaction — and the unit is then submitted again. Each
 * provider batch carries in its `metadata` our work unit, its part number and a digest of the
 * items it holds, so the retry finds it by listing recent batches and adopts it rather than paying
 * the provider twice for the same requests.
 */

export interface PartTag {
  work_unit_id: string;
  /** The part's position among the unit's provider batches. */
  part: string;
  /** Digest of the part's custom_ids in order: a part is adopted only for exactly the same items. */
  items: string;
}

/** The metadata of part `index`, holding `itemIds` (OpenAI: ≤ 16 keys, values ≤ 512 chars). */
export function partTag(workUnitId: string, index: number, itemIds: readonly string[]): PartTag {
  return { work_unit_id: workUnitId, part: String(index), items: hashHex(...itemIds).slice(0, 32) };
}

export interface FoundBatch {
  id: string;
  input_file_id: string;
}

/** Pages of 100 read at most, newest first: a retry follows its lost submit within minutes, so it sits near the top. */
const MAX_PAGES = 5;
/** Older batches are not looked at (a unit's submits are retried within minutes, not days). */
const MAX_AGE_S = 2 * 24 * 3600;
/**
 * A batch that may be adopted: running or done. One that failed, expired or was cancelled (by the
 * failed submit's own clean-up, say) holds nothing to wait for, so the items go out afresh.
 */
const ADOPTABLE = new Set(["validating", "in_progress", "finalizing", "completed"]);
/** A batch that can still be stopped before it does (and bills) more work. */
const RUNNING = new Set(["validating", "in_progress", "finalizing"]);

const keyOf = (t: Pick<PartTag, "part" | "items">) => `${t.part}:${t.items}`;

/**
 * Every batch tagged with the unit, newest first, within the pages and age looked at. Listing is best
 * effort: a provider that can't list (a clone without GET /batches) is treated as having none, but a
 * retryable failure (429, 5xx) is thrown, so the caller tries again rather than risking a twin.
 */
async function taggedBatches(http: OpenAiHttp, workUnitId: string, nowS: number): Promise<{ b: Record<string, unknown>; tag: PartTag }[]> {
  const out: { b: Record<string, unknown>; tag: PartTag }[] = [];
  let after: string | null = null;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const q: string = `/batches?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`;
      const list = await http.json<{ data?: Record<string, unknown>[]; has_more?: boolean; last_id?: string | null }>("GET", q);
      const data = Array.isArray(list.data) ? list.data : [];
      for (const b of data) {
        if (typeof b.created_at === "number" && b.created_at < nowS - MAX_AGE_S) return out;
        const tag = (b.metadata ?? {}) as Partial<PartTag>;
        if (tag.work_unit_id !== workUnitId || typeof tag.part !== "string" || typeof tag.items !== "string") continue;
        if (typeof b.id === "string") out.push({ b, tag: tag as PartTag });
      }
      const last = list.last_id ?? (data.at(-1)?.id as string | undefined);
      if (!list.has_more || !last) return out;
      after = last;
    }
  } catch (err) {
    if (classifyError(err) === "retryable") throw err;
    return [];
  }
  return out;
}

/** The unit's batches still worth adopting, by part and items (the newest of each). */
export async function findUnitBatches(http: OpenAiHttp, workUnitId: string, nowS = Date.now() / 1000): Promise<Map<string, FoundBatch>> {
  const found = new Map<string, FoundBatch>();
  for (const { b, tag } of await taggedBatches(http, workUnitId, nowS)) {
    if (!ADOPTABLE.has(String(b.status ?? "").toLowerCase())) continue;
    const key = keyOf(tag);
    if (!found.has(key)) found.set(key, { id: String(b.id), input_file_id: String(b.input_file_id ?? "") });
  }
  return found;
}

/**
 * Stops every batch of the unit that may still run (not only the newest of each part): a unit given
 * up for good has no submit to come and adopt them, and they would run, and be billed, for nothing.
 */
export async function cancelUnitBatches(http: OpenAiHttp, workUnitId: string, nowS = Date.now() / 1000): Promise<void> {
  for (const { b } of await taggedBatches(http, workUnitId, nowS)) {
    if (!RUNNING.has(String(b.status ?? "").toLowerCase())) continue;
    // A batch that ended meanwhile answers an error: nothing left to stop. A retryable refusal is
    // thrown so the caller tries again.
    await http.json("POST", `/batches/${encodeURIComponent(String(b.id))}/cancel`).catch((err) => {
      if (classifyError(err) === "retryable") throw err;
    });
    // Its input file too, as a failed submit's clean-up does.
    if (typeof b.input_file_id === "string" && b.input_file_id)
      await http.json("DELETE", `/files/${encodeURIComponent(b.input_file_id)}`).catch(() => undefined);
  }
}

/** The batch already created for this part, if any. */
export const adoptable = (found: Map<string, FoundBatch>, tag: PartTag): FoundBatch | undefined => found.get(keyOf(tag));
