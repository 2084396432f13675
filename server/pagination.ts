import { z } from "zod";

/** `?limit=&cursor=` (with `after` as an alias of cursor), shared by every list endpoint. */
export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100."),
    cursor: z.string().max(64).optional().describe("`next_cursor` of the previous page."),
    after: z.string().max(64).optional().describe("Alias of `cursor`."),
  })
  .transform(({ after, cursor, ...rest }) => ({ ...rest, cursor: cursor ?? after }));

/**
 * Keyset paging: callers fetch `limit + 1` rows; the extra row only says there is more, and the
 * last kept row's key is the next cursor.
 */
export function splitPage<R>(rows: R[], limit: number, cursorOf: (r: R) => string) {
  const has_more = rows.length > limit;
  const kept = has_more ? rows.slice(0, limit) : rows;
  return { kept, has_more, next_cursor: has_more ? cursorOf(kept[kept.length - 1]!) : null };
}

/** A `{object: "list", data, has_more, next_cursor}` page of rows keyed by their time-sortable id. */
export function page<R extends { id: string }, T>(rows: R[], limit: number, present: (r: R) => T) {
  const { kept, has_more, next_cursor } = splitPage(rows, limit, (r) => r.id);
  return { object: "list" as const, data: kept.map(present), has_more, next_cursor };
}
