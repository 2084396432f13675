import type { Scope } from "./schemas.js";

/** Who is calling: resolved once per request from the API key, passed to every service. */
export interface Actor {
  org_id: string;
  environment: "live" | "test";
  key_id: string;
  scopes: readonly Scope[];
}
