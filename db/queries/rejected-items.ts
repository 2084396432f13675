import type { Db, Trx } from "../connection.js";

/**
 * Items a compatible surface rejected at create (Anthropic validates each request's params on its
 * own: one bad request is an `errored` result, not a refused batch). They are stored as items that
 * ended `failed` before anything ran — no work unit, no lane, never dispatched or billed — after the
 * manifest's items: idx from the manifest's item count on, each remembering its place among the
 * requests (`item.request_index`) so results can be read back in request order.
 */
export interface RejectedItem {
  /** Its place among the create's requests. */
  request_index: number;
  customer_item_id: string;
  error: { code: string; message: string; provider_status?: number };
}

const CHUNK = 1000;

/** Writes the rejected items at idx `firstIdx`, `firstIdx + 1`, … in the caller's transaction. */
export async function insertRejectedItems(trx: Trx, batchId: string, firstIdx: number, items: readonly RejectedItem[]): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) {
    await trx("batch_items").insert(
      items.slice(i, i + CHUNK).map((r, j) => ({
        batch_id: batchId,
        idx: firstIdx + i + j,
        customer_item_id: r.customer_item_id,
        operation: "responses",
        models: JSON.stringify([]),
        // manifest_items: where the rejected run starts, readable from any of them (see firstRejectedIdx).
        item: JSON.stringify({ customer_item_id: r.customer_item_id, request_index: r.request_index, manifest_items: firstIdx }),
        work_unit_id: null,
        lane_id: null,
        status: "failed",
        error: JSON.stringify(r.error),
        finished_at: trx.fn.now(),
      })),
    );
  }
}

/**
 * Once the manifest's items are written (the batch is past `validating`), the rejected items stored
 * after them join the batch's item count. A range read on the primary key, so it costs nothing for a
 * batch that has none; idempotent (after the first run nothing lies past the count).
 */
export async function countRejectedItems(db: Db, batchId: string): Promise<void> {
  await db.raw(
    `UPDATE batches b SET item_count = b.item_count + extra.n, updated_at = now()
       FROM (SELECT count(*)::int AS n FROM batch_items i, batches o
              WHERE o.id = ? AND i.batch_id = o.id AND i.idx >= o.item_count) extra
      WHERE b.id = ? AND b.status <> 'validating' AND extra.n > 0`,
    [batchId, batchId],
  );
}

/**
 * Where a batch's rejected items start (they are its last items, and each says where their run
 * begins), or null when it has none: one read of its last item on the primary key.
 */
export async function firstRejectedIdx(db: Db, batchId: string): Promise<number | null> {
  const last = await db("batch_items")
    .where({ batch_id: batchId })
    .orderBy("idx", "desc")
    .first<{ item: Record<string, unknown> } | undefined>("item");
  const start = last?.item.manifest_items;
  return typeof start === "number" && last?.item.request_index !== undefined ? start : null;
}
