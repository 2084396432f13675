import { hashHex } from "./hash.js";
import { type AnthropicHttp, BATCHES, batchPath } from "./anthropic-http.js";
import { streamLines } from "./openai-http.js";
import { classifyError } from "./retry-policy.js";
import type { Intent, SubmitJournal } from "./types.js";

/**
 * Crash-safe resubmits of Anthropic Message Batches. A create can be accepted by Anthropic while we
 * never learn its id — the answer lost on the way back, or the worker killed before recording it —
 * and the unit is then submitted again. OpenAI batches carry our tag in their metadata
 * (openai-batch-adopt.ts); Anthropic's have no such field, so before each create the submit writes an
 * *intent* to the database (unit, part, request count, a digest of the items, the time) and, once the
 * create answers, the batch id beside it. A resubmit reads the unit's unsettled intents:
 *
 * - An intent with the create's answer names a batch that is ours by evidence. It is adopted when it
 *   still holds exactly the part being sent; otherwise (other items now, or already being cancelled)
 *   it is cancelled — never left running unseen.
 * - An intent without one (the answer was lost) is looked for in the provider's list: batches created
 *   around the intent (clock skew allowed), with the same request count, that no intent of ours
 *   already holds. A unique such batch is adopted *provisionally*; when it ends, its results'
 *   custom_ids must be exactly the part's items or it wasn't ours (another client of the same
 *   account): its items are sent afresh and the batch is left alone. None, or several we can't tell
 *   apart, and the part is created afresh: we don't touch a batch we can't show is ours, so in that
 *   rare case a twin of ours may run on.
 */

/** Digest of a part's custom_ids in order: a batch is adopted only for exactly the same items. */
export const partDigest = (customIds: readonly string[]): string => hashHex(...customIds).slice(0, 32);

const keyOf = (part: number, count: number, digest: string) => `${part}:${count}:${digest}`;
export const intentKey = (i: Pick<Intent, "part" | "item_count" | "items_digest">) => keyOf(i.part, i.item_count, i.items_digest);

/** A batch an earlier submit left, ready to take a part's place. */
export interface Earlier {
  intent: Intent;
  batch_id: string;
  provisional: boolean;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Our clock (the database's) and Anthropic's may disagree by this much. */
const SKEW_MS = 5 * 60_000;
/** A create is answered, or given up on, within the http client's timeout (anthropic-http.ts): later than this, the batch isn't that intent's. */
const CREATE_WINDOW_MS = 60_000;
/** List pages (of 100, newest first) read at most: a resubmit follows its lost create within minutes. */
const MAX_PAGES = 10;

/** Requests a batch holds, whatever became of them. */
const totalOf = (b: Json) => {
  const rc = isObj(b.request_counts) ? b.request_counts : {};
  return num(rc.processing) + num(rc.succeeded) + num(rc.errored) + num(rc.canceled) + num(rc.expired);
};

/**
 * Whether a batch can stand for a part: running, or ended with nothing cancelled. One being cancelled
 * (by a failed submit's clean-up, say) would hand the items back `canceled`, which ends them for good.
 */
const usable = (b: Json) =>
  b.processing_status === "in_progress" || (b.processing_status === "ended" && num((b.request_counts as Json | undefined)?.canceled) === 0);

/** 404: the batch is gone, which settles the question too. */
const isGone = (err: unknown) => (err as { status?: number }).status === 404;

/**
 * The batches of the unit's unsettled intents, by the part they hold, and the intents with nothing to
 * adopt (settled here, after any batch of ours among them is cancelled). Listing or reading failures
 * that may heal are thrown, so the submit is retried rather than risking a twin.
 */
export async function earlierBatches(http: AnthropicHttp, journal: SubmitJournal): Promise<Map<string, Earlier>> {
  const intents = await journal.earlier();
  const found = new Map<string, Earlier>();
  const done: Intent[] = [];
  const lost = intents.filter((i) => i.provider_batch_id === null);
  const candidates = lost.length > 0 ? await listAround(http, lost) : [];
  for (const intent of intents) {
    let batchId = intent.provider_batch_id;
    let b: Json | undefined;
    if (batchId === null) {
      const at = intent.created_at.getTime();
      const fits = candidates.filter(
        (c) => c.at >= at - SKEW_MS && c.at <= at + CREATE_WINDOW_MS + SKEW_MS && totalOf(c.b) === intent.item_count && usable(c.b),
      );
      const held = await journal.held(fits.map((c) => c.id));
      const free = fits.filter((c) => !held.has(c.id));
      // Several we can't tell apart: adopting one could take another client's batch for ours.
      if (free.length !== 1 || !(await journal.claim(intent.id, free[0].id))) {
        done.push(intent);
        continue;
      }
      batchId = free[0].id;
      b = free[0].b;
      intent.found = true;
    } else {
      b = await http.json<Json>("GET", batchPath(batchId)).catch((err: unknown) => {
        if (isGone(err)) return undefined;
        throw err;
      });
    }
    const key = intentKey(intent);
    if (b && usable(b) && !found.has(key)) found.set(key, { intent, batch_id: batchId, provisional: intent.found });
    else await dropEarlier(http, journal, { intent, batch_id: batchId, provisional: intent.found });
  }
  await journal.settle(done.map((i) => i.id));
  return found;
}

/**
 * An earlier batch that won't be used: cancelled when it is ours by evidence (the create named it),
 * left alone when it was only found; its intent settled either way.
 */
export async function dropEarlier(http: AnthropicHttp, journal: SubmitJournal, e: Earlier): Promise<void> {
  if (!e.provisional) await cancelBatch(http, e.batch_id);
  await journal.settle([e.intent.id]);
}

/** Asks a batch to stop; one already ended (400) or gone (404) has nothing left to stop. */
export async function cancelBatch(http: AnthropicHttp, batchId: string): Promise<void> {
  await http.json("POST", `${batchPath(batchId)}/cancel`).catch((err: unknown) => {
    if (classifyError(err) === "retryable") throw err;
  });
}

/**
 * The pipeline gave the unit up (no submit will follow): every batch its intents name is stopped,
 * so nothing runs — and bills — for items that already ended. Found batches and lost creates are not
 * ours by evidence and are left alone.
 */
export async function abandonIntents(http: AnthropicHttp, journal: SubmitJournal): Promise<void> {
  for (const intent of await journal.earlier()) {
    if (intent.provider_batch_id !== null && !intent.found) await cancelBatch(http, intent.provider_batch_id);
    await journal.settle([intent.id]);
  }
}

/** The provider's batches created from just before the oldest lost intent on, newest first. */
async function listAround(http: AnthropicHttp, lost: Intent[]): Promise<{ id: string; at: number; b: Json }[]> {
  const since = Math.min(...lost.map((i) => i.created_at.getTime())) - SKEW_MS;
  const out: { id: string; at: number; b: Json }[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q: string = `${BATCHES}?limit=100${after ? `&after_id=${encodeURIComponent(after)}` : ""}`;
    const list = await http.json<{ data?: unknown; has_more?: boolean; last_id?: string | null }>("GET", q);
    const data = Array.isArray(list.data) ? list.data.filter(isObj) : [];
    for (const b of data) {
      const at = Date.parse(String(b.created_at));
      if (at < since) return out; // newest first: everything further is older still
      if (typeof b.id === "string" && !Number.isNaN(at)) out.push({ id: b.id, at, b });
    }
    const last = list.last_id ?? (data.at(-1)?.id as string | undefined);
    if (!list.has_more || !last) return out;
    after = last;
  }
  return out;
}

/**
 * Whether an ended batch's results are exactly `ids` (each once, nothing else): what makes a found
 * batch ours. Only the custom_ids are read; the results are streamed again to be collected.
 */
export async function resultsAre(http: AnthropicHttp, batchId: string, ids: readonly string[]): Promise<boolean> {
  const want = new Set(ids);
  const seen = new Set<string>();
  for await (const text of streamLines(await http.stream(`${batchPath(batchId)}/results`))) {
    let id: unknown;
    try {
      id = (JSON.parse(text) as Json).custom_id;
    } catch {
      return false; // a line we can't read proves nothing: unsure, so not ours (the items go out again)
    }
    if (typeof id !== "string" || !want.has(id) || seen.has(id)) return false;
    seen.add(id);
  }
  return seen.size === want.size;
}
