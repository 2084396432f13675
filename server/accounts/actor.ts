import type { Scope } from "./schemas.js";

/** Who is calling: resolved once per request from the API key, passed to every service. */
export interface Actor {
  org_id: string;
  environment: "live" | "test";
  key_id: string;
  scopes: readonly Scope[];
  /**
   * Authenticated with a rotated-out secret still in its grace period: it keeps working for the API,
   * but may not manage keys — otherwise a leaked old secret could rotate the owner out.
   */
  via_previous_secret?: boolean;
}
