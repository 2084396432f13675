import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import { errors } from "../errors.js";
import { classifyAddress, isAllowedAddress, parseIp } from "./address-class.js";

export interface GuardOptions {
  /** BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS: also http, loopback and private addresses (local tests). */
  allowPrivate: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has; injectable so tests need no DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** A checked webhook target: connect only to `address`, whatever DNS says by then. */
export interface WebhookTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/** A URL or address that must never be contacted: a permanent failure, not worth retrying. */
export class WebhookRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookRefusedError";
  }
}

const MAX_URL_LENGTH = 2048;
const DNS_TIMEOUT_MS = 5_000;

// Names that resolve to the local host or a private network by convention, refused before DNS.
const LOCAL_NAME = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

// os resolver order (getaddrinfo) so we check what a plain connect would have used, /etc/hosts included.
export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, "");

/** "a private address", "an unspecified address"… for messages a customer reads. */
function addressLabel(ip: string): string {
  const kind = classifyAddress(ip).replace("_", "-");
  return `${/^([aeio]|un)/.test(kind) ? "an" : "a"} ${kind} address`;
}

/** Why this URL can't be a webhook target, judged without DNS; null when it may be. */
function urlProblem(raw: string, opts: GuardOptions): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  const schemes = opts.allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol)) return opts.allowPrivate ? "must be an http(s) URL" : "must be an https URL";
  // Credentials in the URL would be stored and logged with it; receivers should check our signature.
  if (url.username || url.password) return "must not contain a user name or password";
  const host = bare(url.hostname);
  if (parseIp(host)) {
    return isAllowedAddress(host, opts) ? null : `must not point at ${addressLabel(host)}`;
  }
  if (opts.allowPrivate) return null;
  if (!host.includes(".") || LOCAL_NAME.test(host.replace(/\.$/, ""))) return "must name a public host";
  return null;
}

/**
 * Validates a webhook URL when it is configured (batch create, org default); throws 400
 * invalid_request at `/webhook/url`. DNS is checked again at each delivery by resolveAndCheck.
 */
export function checkWebhookUrl(url: string, opts: GuardOptions): URL {
  const problem = urlProblem(url, opts);
  if (problem) throw errors.invalidRequest(`webhook.url ${problem}.`, [{ path: "/webhook/url", message: problem }]);
  return new URL(url);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * At delivery time: resolve the host and refuse it if ANY of its addresses is not allowed (so a
 * name can't mix a public and a private record and win on the second try). The caller must connect
 * to the returned address only (pinnedLookup): checking and then letting the HTTP client resolve
 * again would let a DNS rebinding answer a private address in between.
 * Throws WebhookRefusedError for a refused target; other errors (DNS failures) are worth retrying.
 */
export async function resolveAndCheck(raw: string, opts: GuardOptions & { resolve?: Resolver }): Promise<WebhookTarget> {
  const problem = urlProblem(raw, opts);
  if (problem) throw new WebhookRefusedError(`refused: the URL ${problem}`);
  const url = new URL(raw);
  const host = bare(url.hostname);
  if (parseIp(host)) return { url, address: host, family: host.includes(":") ? 6 : 4 };

  let addresses: ResolvedAddress[];
  try {
    addresses = await withTimeout((opts.resolve ?? systemResolver)(host), DNS_TIMEOUT_MS, "DNS lookup");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(`DNS lookup of ${host} failed${code ? ` (${code})` : `: ${(e as Error).message}`}`);
  }
  if (addresses.length === 0) throw new Error(`DNS lookup of ${host} returned no addresses`);
  const bad = addresses.find((a) => !isAllowedAddress(a.address, opts));
  if (bad) {
    throw new WebhookRefusedError(`refused: ${host} resolves to ${addressLabel(bad.address)}`);
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family };
}

/** A `lookup` for node:net that answers the checked address whatever name it is asked for. */
export function pinnedLookup(target: Pick<WebhookTarget, "address" | "family">): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as LookupFunction;
}
