/**
 * Who may call /mcp from a browser, and under which Host name — the MCP specification's rule against
 * DNS rebinding (Streamable HTTP, "Security Warning"). A page on evil.example.com can make its own
 * name resolve to 127.0.0.1 and then POST to a server on loopback as if same-origin; the Origin and
 * Host headers are what give it away. Pure: config and headers in, a reason to refuse (or nothing) out.
 */

export interface OriginGuardConfig {
  /** The address the server binds (config HOST). */
  readonly HOST: string;
  readonly BATCHROUTER_PUBLIC_URL?: string;
  /** Further browser origins allowed, e.g. a console on another domain. */
  readonly BATCHROUTER_ALLOWED_ORIGINS: readonly string[];
}

export interface OriginGuardHeaders {
  origin?: string;
  /** The raw Host header. Not X-Forwarded-Host: a rebinding page is same-origin and may set that one. */
  host?: string;
}

// As URL.hostname spells them (IPv6 in brackets).
const LOOPBACK_HOSTNAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);
const WILDCARD_BINDS = new Set(["", "0.0.0.0", "::", "[::]"]);

const parse = (url: string): URL | undefined => (URL.canParse(url) ? new URL(url) : undefined);

/**
 * A Host header read as a URL with `scheme` (so default ports compare equal: ":80" and none), or
 * undefined when it is more than host[:port] — "localhost@evil.example.com" would parse with
 * hostname evil.example.com, "127.0.0.1/x" as 127.0.0.1; neither is a Host a browser sends.
 */
function hostUrl(scheme: string, host: string): URL | undefined {
  return /[/\\@?#\s]/.test(host) ? undefined : parse(`${scheme}//${host}`);
}

/** A config HOST as URL.hostname would spell it: lower case, IPv6 in brackets. */
function bindHostname(host: string): string {
  const h = host.trim().toLowerCase();
  return h.includes(":") && !h.startsWith("[") ? `[${h}]` : h;
}

/**
 * Why a request to /mcp must be refused (a sentence for the 403), or undefined to serve it.
 *
 * - No Origin: not a browser (agents, SDKs, curl), so nothing to check — the Bearer key is the gate.
 * - An Origin is allowed when it is BATCHROUTER_PUBLIC_URL's origin, one of
 *   BATCHROUTER_ALLOWED_ORIGINS, or a loopback origin whose host:port is the request's own Host
 *   (a page served by this very server during local use).
 * - Host is checked only when we know our own names: bound to loopback (the default) or with a
 *   public URL. Bound to 0.0.0.0 without one, any name may legitimately reach us.
 */
export function checkMcpOrigin(config: OriginGuardConfig, headers: OriginGuardHeaders): string | undefined {
  return checkHost(config, headers.host) ?? (headers.origin === undefined ? undefined : checkOrigin(config, headers.origin, headers.host));
}

function checkOrigin(config: OriginGuardConfig, origin: string, host: string | undefined): string | undefined {
  const refused =
    "This browser origin may not call /mcp: only the server's own origin and those listed in BATCHROUTER_ALLOWED_ORIGINS may.";
  // "null" (sandboxed frames, file: pages) and anything else unparseable is refused like a foreign origin.
  const url = parse(origin);
  if (!url || url.origin === "null") return refused;
  const publicUrl = config.BATCHROUTER_PUBLIC_URL && parse(config.BATCHROUTER_PUBLIC_URL);
  if (publicUrl && publicUrl.origin === url.origin) return undefined;
  if (config.BATCHROUTER_ALLOWED_ORIGINS.some((o) => parse(o)?.origin === url.origin)) return undefined;
  // A loopback origin is ours only on our own port: another local service (a dev server on :3000)
  // is a different origin, and a page there must not drive this server with the user's session.
  if (LOOPBACK_HOSTNAMES.has(url.hostname) && host !== undefined) {
    if (hostUrl(url.protocol, host)?.host === url.host) return undefined;
  }
  return refused;
}

function checkHost(config: OriginGuardConfig, host: string | undefined): string | undefined {
  // HTTP/1.0 may omit Host; a browser never does, so its absence is no rebinding.
  if (host === undefined) return undefined;
  const bind = bindHostname(config.HOST);
  const publicUrl = config.BATCHROUTER_PUBLIC_URL ? parse(config.BATCHROUTER_PUBLIC_URL) : undefined;
  if (!LOOPBACK_HOSTNAMES.has(bind) && !publicUrl) return undefined;
  const refused =
    "This Host name is not one this server answers /mcp on; set BATCHROUTER_PUBLIC_URL (or BATCHROUTER_ALLOWED_ORIGINS) to the name clients use.";
  const hostname = hostUrl("http:", host)?.hostname;
  if (hostname === undefined) return refused;
  const ours = new Set(LOOPBACK_HOSTNAMES);
  if (publicUrl) ours.add(publicUrl.hostname);
  if (!WILDCARD_BINDS.has(bind)) ours.add(bind);
  for (const o of config.BATCHROUTER_ALLOWED_ORIGINS) {
    const u = parse(o);
    if (u) ours.add(u.hostname);
  }
  return ours.has(hostname) ? undefined : refused;
}
