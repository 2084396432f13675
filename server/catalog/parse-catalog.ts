import { z } from "zod";
import {
  catalogMetaSchema,
  modelSchema,
  providerSchema,
  routePolicySchema,
  SLA_DEADLINE_HOURS,
  workflowProductSchema,
  type Catalog,
  type Model,
  type Provider,
  type RoutePolicy,
  type WorkflowProduct,
} from "./types.js";

/** The catalog's files, as raw JSON values keyed by the file each came from. */
export interface RawCatalogFiles {
  "meta.json": unknown;
  "providers.json": unknown;
  "models.json": unknown;
  "route-policies.json": unknown;
  "workflow-products.json": unknown;
}

export interface CatalogIssue {
  file: string;
  path: string;
  message: string;
}

/** Thrown when a catalog file is malformed; lists every problem with its file and path. */
export class CatalogValidationError extends Error {
  constructor(readonly issues: CatalogIssue[]) {
    super(`Invalid seed catalog:\n${issues.map((i) => `  ${i.file} ${i.path || "(root)"}: ${i.message}`).join("\n")}`);
    this.name = "CatalogValidationError";
  }
}

const formatPath = (path: PropertyKey[]) =>
  path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "");

/**
 * Validates the raw files and cross-checks their references (offerings name real providers, workflow
 * products name real policies and models…), so an operator's bad edit fails at load with a path
 * instead of surfacing later as an odd quote.
 */
export function parseCatalog(raw: RawCatalogFiles): Catalog {
  const issues: CatalogIssue[] = [];
  const parse = <T extends z.ZodType>(file: keyof RawCatalogFiles, schema: T): z.infer<T> | undefined => {
    const r = schema.safeParse(raw[file]);
    if (r.success) return r.data;
    for (const i of r.error.issues) issues.push({ file, path: formatPath(i.path), message: i.message });
    return undefined;
  };
  const meta = parse("meta.json", catalogMetaSchema);
  const providers = parse("providers.json", z.array(providerSchema).min(1));
  const models = parse("models.json", z.array(modelSchema).min(1));
  const policies = parse("route-policies.json", z.array(routePolicySchema));
  const products = parse("workflow-products.json", z.array(workflowProductSchema));
  if (issues.length > 0 || !meta || !providers || !models || !policies || !products) {
    throw new CatalogValidationError(issues);
  }
  const add = (file: string, path: string, message: string) => issues.push({ file, path, message });
  checkProviders(providers, add);
  checkModels(models, providers, add);
  checkPolicies(policies, add);
  checkProducts(products, policies, models, add);
  if (issues.length > 0) throw new CatalogValidationError(issues);
  return { meta, providers, models, route_policies: policies, workflow_products: products };
}

type Add = (file: string, path: string, message: string) => void;

function checkUnique(file: string, keys: string[], field: string, add: Add) {
  const seen = new Set<string>();
  keys.forEach((k, i) => {
    if (seen.has(k)) add(file, `[${i}].${field}`, `duplicate ${field} "${k}"`);
    seen.add(k);
  });
}

const hasBatch = (p: Provider) => p.protocols.some((x) => x !== "realtime");

function checkProviders(providers: Provider[], add: Add) {
  const f = "providers.json";
  checkUnique(
    f,
    providers.map((p) => p.slug),
    "slug",
    add,
  );
  providers.forEach((p, i) => {
    const modes = [...(hasBatch(p) ? ["batch" as const] : []), ...(p.protocols.includes("realtime") ? ["realtime" as const] : [])];
    for (const m of modes) {
      if (!p.capacity_items_per_hour[m]) add(f, `[${i}].capacity_items_per_hour.${m}`, `required: the provider has ${m} lanes`);
      if (!p.observed_priors[m]) add(f, `[${i}].observed_priors.${m}`, `required: the provider has ${m} lanes`);
    }
    const zl = p.privacy.zdr_lanes;
    if (zl && p.privacy.posture !== "no_training") {
      add(f, `[${i}].privacy.zdr_lanes`, "only a no_training provider lists zdr lanes (a zdr provider is zdr everywhere)");
    }
    zl?.regions?.forEach((r, j) => {
      if (!p.regions.includes(r)) add(f, `[${i}].privacy.zdr_lanes.regions[${j}]`, `"${r}" is not one of the provider's regions`);
    });
    // Anthropic Message Batches are outside zero-data-retention arrangements (providers.md).
    const zdrReachesBatch = p.privacy.posture === "zdr" || (zl !== undefined && (!zl.modes || zl.modes.includes("batch")));
    if (p.protocols.includes("anthropic-batch") && zdrReachesBatch) {
      add(f, `[${i}].privacy`, 'an anthropic-batch lane can never be zdr; limit zdr_lanes.modes to ["realtime"]');
    }
  });
}

function checkModels(models: Model[], providers: Provider[], add: Add) {
  const f = "models.json";
  const bySlug = new Map(providers.map((p) => [p.slug, p]));
  checkUnique(
    f,
    models.map((m) => m.slug),
    "slug",
    add,
  );
  models.forEach((m, i) => {
    if (m.typical_output_tokens > m.max_output_tokens) add(f, `[${i}].typical_output_tokens`, "exceeds max_output_tokens");
    if (m.max_output_tokens > m.context_window) add(f, `[${i}].max_output_tokens`, "exceeds context_window");
    if (m.hosted_tools.length > 0 && !m.tool_support) add(f, `[${i}].hosted_tools`, "hosted tools need tool_support: true");
    checkUnique(
      f,
      m.offerings.map((o) => o.provider),
      `offerings.provider of model ${m.slug}`,
      add,
    );
    m.offerings.forEach((o, j) => {
      const p = bySlug.get(o.provider);
      if (!p) return add(f, `[${i}].offerings[${j}].provider`, `unknown provider "${o.provider}"`);
      o.regions?.forEach((r, k) => {
        if (!p.regions.includes(r)) add(f, `[${i}].offerings[${j}].regions[${k}]`, `${p.slug} does not run in "${r}"`);
      });
      o.hosted_tools?.forEach((t, k) => {
        if (!m.hosted_tools.includes(t)) add(f, `[${i}].offerings[${j}].hosted_tools[${k}]`, `"${t}" is not a hosted tool of ${m.slug}`);
      });
    });
  });
}

function checkPolicies(policies: RoutePolicy[], add: Add) {
  checkUnique(
    "route-policies.json",
    policies.map((p) => p.name),
    "name",
    add,
  );
}

function checkProducts(products: WorkflowProduct[], policies: RoutePolicy[], models: Model[], add: Add) {
  const f = "workflow-products.json";
  const policyByName = new Map(policies.map((p) => [p.name, p]));
  const modelBySlug = new Map(models.map((m) => [m.slug, m]));
  checkUnique(
    f,
    products.map((p) => p.slug),
    "slug",
    add,
  );
  products.forEach((w, i) => {
    const pm = w.preset_manifest;
    if (pm.operation !== w.operation) add(f, `[${i}].preset_manifest.operation`, `differs from the product's operation "${w.operation}"`);
    const policy = policyByName.get(w.routing_posture);
    if (!policy) add(f, `[${i}].routing_posture`, `unknown route policy "${w.routing_posture}"`);
    else {
      // The preset spells its posture out so a reader sees it; it must not drift from the named policy.
      for (const k of ["routing_mode", "sla_tier", "privacy_tier"] as const) {
        if (pm[k] !== policy[k])
          add(f, `[${i}].preset_manifest.${k}`, `"${pm[k]}" disagrees with route policy ${policy.name} ("${policy[k]}")`);
      }
      if (pm.allowed_regions.join() !== policy.allowed_regions.join()) {
        add(f, `[${i}].preset_manifest.allowed_regions`, `disagrees with route policy ${policy.name}`);
      }
    }
    const candidates = [pm.model, ...pm.model_options];
    candidates.forEach((slug, j) => {
      const path = j === 0 ? `[${i}].preset_manifest.model` : `[${i}].preset_manifest.model_options[${j - 1}]`;
      const m = modelBySlug.get(slug);
      if (!m) add(f, path, `unknown model "${slug}"`);
      else if (!m.operations.includes(w.operation)) add(f, path, `${slug} does not do ${w.operation}`);
    });
    w.default_route_products.forEach((rp, j) => {
      const [provider, model] = rp.split("/") as [string, string];
      const offered = modelBySlug.get(model)?.offerings.some((o) => o.provider === provider);
      if (!offered) add(f, `[${i}].default_route_products[${j}]`, `${provider} does not offer ${model}`);
      else if (!candidates.includes(model)) add(f, `[${i}].default_route_products[${j}]`, `${model} is not one of the preset's models`);
    });
    if (w.success_sla.sla_tier !== pm.sla_tier) add(f, `[${i}].success_sla.sla_tier`, "differs from the preset sla_tier");
    if (w.success_sla.deadline_hours !== SLA_DEADLINE_HOURS[w.success_sla.sla_tier]) {
      add(
        f,
        `[${i}].success_sla.deadline_hours`,
        `the ${w.success_sla.sla_tier} tier's deadline is ${SLA_DEADLINE_HOURS[w.success_sla.sla_tier]} h`,
      );
    }
  });
}

/** A workflow product by exact slug ("name@v3") or by bare name, which picks the highest version. */
export function findWorkflowProduct(products: WorkflowProduct[], slugOrName: string): WorkflowProduct | undefined {
  if (slugOrName.includes("@")) return products.find((p) => p.slug === slugOrName);
  const version = (p: WorkflowProduct) => Number(p.slug.split("@v")[1]);
  return products
    .filter((p) => p.slug.split("@")[0] === slugOrName)
    .reduce<WorkflowProduct | undefined>((best, p) => (!best || version(p) > version(best) ? p : best), undefined);
}
