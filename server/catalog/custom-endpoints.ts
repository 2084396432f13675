import type { CustomEndpoint } from "../providers/endpoints.js";
import type { Catalog, Model, Provider } from "./types.js";

/**
 * An operator's custom OpenAI-compatible endpoints (vLLM, Ollama, llama.cpp server, LM Studio…) as
 * catalog providers of their own slug, so their models become real-time lanes that quotes, the
 * provider directory and routing see like any other. A model the catalog knows gains an offering;
 * a new one is added with the context window the operator gave.
 */
export function withCustomEndpoints(catalog: Catalog, endpoints: readonly CustomEndpoint[]): Catalog {
  if (endpoints.length === 0) return catalog;
  const providers: Provider[] = [...catalog.providers];
  const models = new Map<string, Model>(catalog.models.map((m) => [m.slug, { ...m, offerings: [...m.offerings] }]));
  for (const e of endpoints) {
    if (providers.some((p) => p.slug === e.slug))
      throw new Error(`custom endpoint "${e.slug}" has the slug of a catalog provider; pick another`);
    providers.push({
      slug: e.slug,
      display_name: `${e.slug} (custom endpoint)`,
      protocols: ["realtime"],
      planned_protocols: [],
      regions: [e.region],
      batch_discount_bps: 0,
      privacy: { posture: e.privacy_tier, notes: "As declared by the operator for this endpoint" },
      // Self-hosted supply: not a public provider, so routing_mode public_only leaves it out.
      public: false,
      rescue: false,
      capacity_items_per_hour: { realtime: Math.max(60, e.max_concurrency * 600) },
      observed_priors: { realtime: { success_rate: 0.95, p50_turnaround_s: 10 } },
      // Not its address: the provider directory is public, and the endpoint may be an internal host.
      notes: "Custom OpenAI-compatible endpoint configured by the operator",
    });
    for (const m of e.models) {
      const offering = {
        provider: e.slug,
        input_per_mtok: m.input_per_mtok,
        output_per_mtok: m.output_per_mtok,
        regions: [e.region],
        ...(m.served_as ? { served_as: m.served_as } : {}),
      };
      const known = models.get(m.model);
      if (known) {
        known.offerings.push(offering);
        continue;
      }
      models.set(m.model, {
        slug: m.model,
        display_name: m.served_as ?? m.model,
        family: "o200k",
        operations: ["responses"],
        context_window: m.context_window,
        max_output_tokens: Math.min(8192, Math.floor(m.context_window / 2)),
        typical_output_tokens: 400,
        tool_support: m.tools,
        hosted_tools: [],
        offerings: [offering],
      } as Model);
    }
  }
  return { ...catalog, providers, models: [...models.values()] };
}
