import type { ProviderEndpoint } from "../../server/providers/endpoints.js";

/**
 * A token bucket per endpoint (its `requestsPerMinute`), shared by every lane of the endpoint in
 * this process: a burst of up to a minute's worth, then one request per 60/rpm seconds. Zero means
 * no limit (the provider's own 429s and Retry-After still apply).
 */
const buckets = new Map<string, { tokens: number; at: number }>();

export async function takeToken(
  endpoint: Pick<ProviderEndpoint, "slug" | "requestsPerMinute">,
  now: () => number = Date.now,
): Promise<void> {
  const rpm = endpoint.requestsPerMinute;
  if (!rpm) return;
  for (;;) {
    const t = now();
    const b = buckets.get(endpoint.slug) ?? { tokens: rpm, at: t };
    b.tokens = Math.min(rpm, b.tokens + ((t - b.at) * rpm) / 60_000);
    b.at = t;
    buckets.set(endpoint.slug, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    await new Promise((r) => setTimeout(r, Math.ceil(((1 - b.tokens) * 60_000) / rpm)));
  }
}
