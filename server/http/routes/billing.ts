import { listEntries } from "../../../db/queries/ledger.js";
import { ledgerPage } from "../../billing/responses.js";
import { presentLedgerEntry } from "../../billing/present.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";
import { listQuery, page } from "../../pagination.js";

export function billingRoutes(deps: AppDeps) {
  return [
    defineRoute({
      method: "get",
      path: "/v1/billing/ledger",
      tag: "billing",
      auth: "billing",
      summary: "The append-only credit ledger of this environment, newest first.",
      query: listQuery,
      response: ledgerPage,
      handler: async (_ctx, { actor, query }) => {
        const rows = await listEntries(deps.db, actor.org_id, actor.environment, query.limit + 1, query.cursor);
        return page(rows, query.limit, presentLedgerEntry);
      },
    }),
  ];
}
