import {
  getModel,
  getWorkflowProduct,
  listModels,
  listRoutePolicies,
  listWorkflowProducts,
  presentFeeSchedule,
  type ExecutionModes,
} from "../../catalog/presenters.js";
import { getProvider, listProviders } from "../../catalog/provider-directory.js";
import {
  modelDetailObject,
  modelList,
  pricingObject,
  providerList,
  providerObject,
  routePolicyList,
  workflowProductList,
  workflowProductObject,
} from "../../catalog/responses.js";
import { modelFilterQuery, slugParams, workflowSlugParams } from "../../catalog/schemas.js";
import type { AppDeps } from "../context.js";
import { defineRoute } from "../route.js";

/** The public catalog: models and their lanes, providers, workflow products, fees, route policies. */
export function catalogRoutes(deps: AppDeps) {
  // Read per request: a provider turns live when its credentials are configured, without a restart.
  const modes = (): ExecutionModes => deps.providerModes?.() ?? {};
  const snapshot = () => deps.catalog.get();
  return [
    defineRoute({
      method: "get",
      path: "/v1/catalog/models",
      tag: "catalog",
      auth: "none",
      summary: "Models with every lane that serves them (price per million tokens, privacy, capacity, observed reliability).",
      query: modelFilterQuery,
      response: modelList,
      handler: async (_ctx, { query }) => listModels(await snapshot(), query, modes()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/catalog/models/:slug",
      tag: "catalog",
      auth: "none",
      summary: "One model with all its offerings and an example manifest ready to send to POST /v1/quotes/model.",
      params: slugParams,
      response: modelDetailObject,
      handler: async (_ctx, { params }) => getModel(await snapshot(), params.slug, modes()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/catalog/workflow-products",
      tag: "catalog",
      auth: "none",
      summary: "Packaged jobs: a preset manifest, a routing posture, an artifact contract and a success SLA.",
      response: workflowProductList,
      handler: async () => listWorkflowProducts(await snapshot()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/catalog/workflow-products/:slug",
      tag: "catalog",
      auth: "none",
      summary: "One workflow product, by `name@vN` or by bare name for its newest version.",
      params: workflowSlugParams,
      response: workflowProductObject,
      handler: async (_ctx, { params }) => getWorkflowProduct(await snapshot(), params.slug),
    }),
    defineRoute({
      method: "get",
      path: "/v1/providers",
      tag: "catalog",
      auth: "none",
      summary: "The provider directory: regions, privacy, batch protocol and discount, lanes, reliability, live or simulated.",
      response: providerList,
      handler: async () => listProviders(await snapshot(), modes()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/providers/:slug",
      tag: "catalog",
      auth: "none",
      summary: "One provider of the directory.",
      params: slugParams,
      response: providerObject,
      handler: async (_ctx, { params }) => getProvider(await snapshot(), params.slug, modes()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/pricing",
      tag: "catalog",
      auth: "none",
      summary: "BatchRouter's fee schedule (fractions of the provider subtotal).",
      response: pricingObject,
      handler: async () => presentFeeSchedule(await snapshot()),
    }),
    defineRoute({
      method: "get",
      path: "/v1/route-policies",
      tag: "catalog",
      auth: "none",
      summary: "Named routing postures: bundles of routing mode, SLA tier, privacy tier, regions and provider preferences.",
      response: routePolicyList,
      handler: async () => listRoutePolicies(await snapshot()),
    }),
  ];
}
