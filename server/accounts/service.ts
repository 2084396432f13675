import type { Db } from "../../db/connection.js";
import * as keysQ from "../../db/queries/api-keys.js";
import type { ApiKeyRow } from "../../db/queries/api-keys.js";
import * as orgsQ from "../../db/queries/orgs.js";
import { post, balanceOf } from "../billing/ledger.js";
import type { Config } from "../config.js";
import { errors, fail } from "../errors.js";
import { newId } from "../ids.js";
import { money, parseUsd } from "../money.js";
import type { Actor } from "./actor.js";
import { keyCacheFor } from "./key-cache.js";
import { SCOPES, type AgentRegisterInput, type CreateKeyInput, type Scope } from "./schemas.js";
import { environmentOfSecret, hashPassword, hashSecret, newKeySecret, visiblePrefix, type Environment } from "./secrets.js";

export interface AccountDeps {
  db: Db;
  config: Config;
}

async function issueKey(
  db: Db,
  orgId: string,
  environment: Environment,
  name: string | null,
  scopes: readonly Scope[],
  expiresAt: Date | null,
) {
  const secret = newKeySecret(environment);
  const row = await keysQ.insertApiKey(db, {
    id: newId("key"),
    org_id: orgId,
    environment,
    name,
    prefix: visiblePrefix(secret),
    secret_hash: hashSecret(secret),
    scopes: [...scopes],
    expires_at: expiresAt,
  });
  return { secret, row };
}

/** Creates an org with a live and a test key at once — the no-email sign-up agents use. */
export async function registerAgent(deps: AccountDeps, input: AgentRegisterInput) {
  if (input.email && (await orgsQ.emailTaken(deps.db, input.email))) {
    throw errors.invalidRequest("That email is already registered; log in instead.", [{ path: "/email", message: "already registered" }]);
  }
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  return deps.db.transaction(async (trx) => {
    const orgId = newId("org");
    await orgsQ.insertOrg(trx, { id: orgId, name: input.agent_name ?? "Agent organisation", billing_email: input.email ?? null });
    if (input.email && passwordHash) {
      await orgsQ.insertUser(trx, { id: newId("usr"), org_id: orgId, email: input.email, password_hash: passwordHash });
    }
    const live = await issueKey(trx, orgId, "live", "default live key", SCOPES, null);
    const test = await issueKey(trx, orgId, "test", "default test key", SCOPES, null);
    await grantSignupCredits(trx, deps.config, orgId);
    const balance = await balanceOf(trx, orgId, "live");
    return {
      object: "agent_registration",
      org_id: orgId,
      api_key: live.secret,
      api_key_id: live.row.id,
      test_api_key: test.secret,
      test_api_key_id: test.row.id,
      environment: "live" as const,
      credit_balance: money(balance.credit_balance),
      verification_required: Boolean(input.email),
    };
  });
}

async function grantSignupCredits(trx: Db, config: Config, orgId: string) {
  const grants: [Environment, number][] = [
    ["live", parseUsd(config.BATCHROUTER_SIGNUP_CREDIT_USD)],
    ["test", parseUsd(config.BATCHROUTER_TEST_CREDIT_USD)],
  ];
  for (const [environment, micros] of grants) {
    if (micros <= 0) continue;
    await post(trx, {
      org_id: orgId,
      environment,
      kind: "promo_grant",
      available_delta: micros,
      posting_key: "signup_credit",
      description: "Sign-up credit",
    });
  }
}

/**
 * Resolves a presented secret to an actor, or throws 401 with the reason a person can act on.
 * Lookups come from the process's key cache (key-cache.ts) when it has them; the checks below run on
 * every request either way, so a cached row can't outlive its revocation, expiry or grace period.
 */
export async function authenticate(db: Db, secret: string): Promise<Actor> {
  const claimed = environmentOfSecret(secret);
  if (!claimed) throw errors.unauthorized("Unrecognised API key format: keys start with `br_live_` or `br_test_`.");
  const hash = hashSecret(secret);
  const cache = keyCacheFor(db);
  const now = Date.now();
  let row = cache.get(hash, now);
  if (!row) {
    const generation = cache.begin();
    row = await keysQ.findKeyBySecretHash(db, hash);
    if (!row) throw errors.unauthorized("Unknown API key.");
    cache.store(hash, row, generation);
  }
  if (row.via_previous && !(row.previous_valid_until && row.previous_valid_until.getTime() > now)) {
    throw errors.unauthorized("Unknown API key.");
  }
  if (row.environment !== claimed) throw errors.unauthorized(`This key belongs to the ${row.environment} environment.`);
  if (row.revoked_at) throw errors.unauthorized("This API key has been revoked.");
  if (row.expires_at && row.expires_at.getTime() <= now) throw errors.unauthorized("This API key has expired.");
  if (cache.shouldTouch(hash, now)) void keysQ.touchKey(db, row.id).catch(() => undefined); // best effort; never fails a request
  return {
    org_id: row.org_id,
    environment: row.environment,
    key_id: row.id,
    scopes: row.scopes as Scope[],
    ...(row.via_previous ? { via_previous_secret: true } : {}),
  };
}

export function requireScope(actor: Actor, scope: Scope): void {
  if (!actor.scopes.includes(scope)) throw errors.insufficientScope(scope);
}

export async function getAccount(deps: AccountDeps, actor: Actor) {
  const org = await orgsQ.getOrg(deps.db, actor.org_id);
  if (!org) throw errors.notFound("account");
  const b = await balanceOf(deps.db, actor.org_id, actor.environment);
  return {
    object: "account",
    org_id: org.id,
    name: org.name,
    environment: actor.environment,
    credit_balance: money(b.credit_balance),
    available_balance: money(b.available),
    reserved_balance: money(b.reserved),
    billing_email: org.billing_email,
    created_at: org.created_at.toISOString(),
  };
}

export function presentKey(row: ApiKeyRow) {
  return {
    object: "api_key",
    id: row.id,
    api_key_id: row.id,
    name: row.name,
    prefix: row.prefix,
    environment: row.environment,
    scopes: row.scopes,
    status: row.revoked_at ? "revoked" : row.expires_at && row.expires_at.getTime() <= Date.now() ? "expired" : "active",
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    previous_secret_valid_until:
      row.previous_valid_until && row.previous_valid_until.getTime() > Date.now() ? row.previous_valid_until.toISOString() : null,
    created_at: row.created_at.toISOString(),
  };
}

export async function createKey(deps: AccountDeps, actor: Actor, input: CreateKeyInput) {
  const environment = input.environment ?? actor.environment;
  // A test key is handed to code under development; it must not mint keys that spend real money.
  if (actor.environment === "test" && environment === "live") {
    throw fail.forbidden("A test key cannot create live keys; use a live key.");
  }
  const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw errors.invalidRequest("`expires_at` must be in the future.", [{ path: "/expires_at", message: "must be in the future" }]);
  }
  // A key grants only what it holds: by default its own scopes, never more (scopes only narrow).
  const scopes = input.scopes ?? actor.scopes;
  refuseScopesNotHeld(actor, scopes, "grant");
  const { secret, row } = await issueKey(deps.db, actor.org_id, environment, input.name ?? input.label ?? null, scopes, expiresAt);
  return { ...presentKey(row), api_key: secret };
}

/** 403 unless `actor` holds every scope in `scopes`: a key can't grant, or take over, more than it has. */
function refuseScopesNotHeld(actor: Actor, scopes: readonly Scope[], action: "grant" | "rotate" | "revoke"): void {
  if (actor.via_previous_secret) {
    throw fail.forbidden(
      "This secret was rotated out: it works until its grace period ends, but can't manage keys. Use the key's current secret.",
    );
  }
  const missing = [...new Set(scopes)].filter((s) => !actor.scopes.includes(s));
  if (missing.length === 0) return;
  const what =
    action === "grant" ? "A key can only grant scopes it holds itself" : `A key can only ${action} keys whose scopes it holds itself`;
  throw fail.forbidden(`${what}; this key lacks ${missing.map((m) => `\`${m}\``).join(", ")}.`, {
    missing_scopes: missing,
    held_scopes: actor.scopes,
  });
}

export async function listKeys(deps: AccountDeps, actor: Actor) {
  const rows = await keysQ.listKeys(deps.db, actor.org_id, actor.environment);
  return { object: "list", data: rows.map(presentKey), has_more: false, next_cursor: null };
}

async function ownKey(deps: AccountDeps, actor: Actor, id: string): Promise<ApiKeyRow> {
  const row = await keysQ.getKey(deps.db, actor.org_id, actor.environment, id);
  if (!row) throw errors.notFound("API key");
  return row;
}

export async function rotateKey(deps: AccountDeps, actor: Actor, id: string, graceSeconds: number) {
  const row = await ownKey(deps, actor, id);
  // Rotating hands out the key's new secret, so it would be a way to gain that key's scopes.
  refuseScopesNotHeld(actor, row.scopes as Scope[], "rotate");
  if (row.revoked_at) throw fail.invalidState("A revoked key cannot be rotated.");
  const secret = newKeySecret(row.environment);
  const rotated = await changeKey(deps.db, row.id, (trx) =>
    keysQ.rotateKeySecret(trx, row.id, hashSecret(secret), visiblePrefix(secret), graceSeconds),
  );
  return { ...presentKey(rotated), api_key: secret };
}

export async function revokeKey(deps: AccountDeps, actor: Actor, id: string) {
  const row = await ownKey(deps, actor, id);
  refuseScopesNotHeld(actor, row.scopes as Scope[], "revoke");
  return presentKey(await changeKey(deps.db, row.id, (trx) => keysQ.revokeKey(trx, row.id)));
}

/**
 * Changes a key and, in the same transaction, notifies every API process to drop its cached lookups
 * (they see it after the commit); this process drops its own at once, before answering.
 */
async function changeKey(db: Db, keyId: string, change: (trx: Db) => Promise<ApiKeyRow>): Promise<ApiKeyRow> {
  const row = await db.transaction(async (trx) => {
    const changed = await change(trx);
    await keysQ.notifyKeyChanged(trx, keyId);
    return changed;
  });
  keyCacheFor(db).forgetKey(keyId);
  return row;
}

/** Operator path: a key for an existing org, as `npm run admin -- keys create` prints it. */
export async function createKeyForOrg(db: Db, orgId: string, environment: Environment, name: string | null) {
  const org = await orgsQ.getOrg(db, orgId);
  if (!org) throw errors.notFound("organisation");
  const { secret, row } = await issueKey(db, orgId, environment, name, SCOPES, null);
  return { ...presentKey(row), api_key: secret };
}
