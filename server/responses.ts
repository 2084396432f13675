import { z } from "zod";

/**
 * Pieces shared by the response schemas of every domain (`server/<domain>/responses.ts`). Those
 * schemas describe each route's success body in /v1/openapi.json and are the MCP tools' output
 * schemas, so they state exactly what the presenters send: plain `z.object`s (an unknown field is a
 * drift test/response-schemas.test.ts catches), `z.looseObject` only where a field is open by design.
 */

/** Money as the API writes it (server/money.ts `money()`): a 6-place decimal string, never a float. */
export const moneySchema = z.object({
  amount: z
    .string()
    .regex(/^-?\d+\.\d{6}$/)
    .describe('Decimal USD with exactly 6 places (micro-dollars), e.g. "0.004213"; negative for debits.'),
  currency: z.literal("usd"),
});

/** An ISO 8601 UTC timestamp, as `Date.toISOString()` writes it. */
export const timestamp = () => z.iso.datetime();

/** The paging fields of every list (server/pagination.ts). */
export const pageFields = {
  has_more: z.boolean().describe("true when another page follows."),
  next_cursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
};

/**
 * A `{object: "list", data, has_more, next_cursor}` page of `item`s (server/pagination.ts `page`,
 * server/catalog/presenters.ts `wholeList`, whose lists are whole: has_more false, next_cursor null).
 */
export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({
    object: z.literal("list"),
    data: z.array(item),
    ...pageFields,
  });

/** A structured error on an object (a failed batch, an item): the API's error code and a sentence. */
export const errorInfoSchema = z.object({
  code: z.string().describe("A machine-readable code to branch on."),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional().describe("Free-form per code, e.g. `preflight[]` line errors."),
});
