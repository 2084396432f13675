import { z } from "zod";

/** `?limit=&cursor=` (with `after` as an alias of cursor), shared by every list endpoint. */
export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100."),
    cursor: z.string().max(64).optional().describe("`next_cursor` of the previous page."),
    after: z.string().max(64).optional().describe("Alias of `cursor`."),
  })
  .transform(({ after, cursor, ...rest }) => ({ ...rest, cursor: cursor ?? after }));

/** Turns `limit + 1` rows fetched newest-first into a page: the extra row only says there is more. */
export function page<R extends { id: string }, T>(rows: R[], limit: number, present: (r: R) => T) {
  const has_more = rows.length > limit;
  const kept = has_more ? rows.slice(0, limit) : rows;
  return {
    object: "list",
    data: kept.map(present),
    has_more,
    next_cursor: has_more ? kept[kept.length - 1]!.id : null,
  };
}
