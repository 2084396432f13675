import { quoteIdParams, quoteRequestSchema, workflowQuoteSchema } from "../../quotes/schemas.js";
import * as quotes from "../../quotes/service.js";
import { quoteObject, storedQuoteObject } from "../../quotes/responses.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

export function quoteRoutes(deps: AppDeps) {
  const modelQuote = (path: string, summary: string) =>
    defineRoute({
      method: "post",
      path,
      tag: "quotes",
      auth: "quote",
      summary,
      body: quoteRequestSchema,
      response: quoteObject,
      handler: async (_ctx, { actor, body }) => quotes.quoteManifest(deps, actor, body),
    });
  return [
    modelQuote(
      "/v1/quotes/model",
      "Free quote for a manifest: every lane considered, the cheapest that meet your constraints, price locked 10 minutes.",
    ),
    modelQuote("/v1/batches/quote", "Alias of POST /v1/quotes/model."),
    defineRoute({
      method: "post",
      path: "/v1/quotes/workflow",
      tag: "quotes",
      auth: "quote",
      summary: "Free quote for a workflow product: its preset manifest and routing posture fill in the rest.",
      body: workflowQuoteSchema,
      response: quoteObject,
      handler: async (_ctx, { actor, body }) => quotes.quoteWorkflow(deps, actor, body),
    }),
    defineRoute({
      method: "get",
      path: "/v1/quotes/:id",
      tag: "quotes",
      auth: "quote",
      summary: "A quote, with status open | accepted | expired.",
      params: quoteIdParams,
      response: storedQuoteObject,
      handler: async (_ctx, { actor, params }) => quotes.getQuote(deps, actor, params.id),
    }),
  ];
}
