import { authenticate, requireScope } from "../../accounts/service.js";
import { ANTHROPIC_COMPAT_PREFIX } from "../../compat/anthropic/errors.js";
import type { Scope } from "../../accounts/schemas.js";
import { errors } from "../../errors.js";
import type { AppContext, AppDeps, RateLimiters } from "../context.js";
import { consume } from "./rate-limit.js";
import { logWithActor } from "./request-id.js";

function bearer(ctx: AppContext): string | null {
  // What ctx.get("Authorization") reads, without Koa's delegation (every request passes here).
  const header = ctx.req.headers.authorization ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m) return m[1]!;
  // Anthropic's clients send the key as `x-api-key`; honoured only on the Anthropic-compatible surface.
  const apiKey = ctx.path.startsWith(ANTHROPIC_COMPAT_PREFIX) && !header ? ctx.get("x-api-key").trim() : "";
  return apiKey !== "" && !/\s/.test(apiKey) ? apiKey : null;
}

/**
 * Requires an API key (and a scope, when given), then spends a point of that key's rate limit.
 * The actor lands on ctx.state.actor for the handler.
 */
export async function requireActor(ctx: AppContext, deps: AppDeps, limiters: RateLimiters, scope?: Scope) {
  const secret = bearer(ctx);
  if (!secret) {
    throw errors.unauthorized(ctx.get("Authorization") ? "The Authorization header must be `Bearer <api key>`." : undefined);
  }
  const actor = await authenticate(deps.db, secret);
  ctx.state.actor = actor;
  logWithActor(ctx.state);
  const limited = consume(ctx, limiters.perKey, actor.key_id);
  if (limited) await limited;
  if (scope) requireScope(actor, scope);
  return actor;
}
