import { isIP } from "node:net";

/**
 * What an IP address is, for the webhook SSRF guard. Anything but `public` is refused unless the
 * operator allows private webhooks; `unspecified`, `multicast` and `metadata` are refused always,
 * since no local test needs them and they are the classic SSRF targets.
 */
export type AddressKind =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "cgnat"
  | "link_local"
  | "unique_local"
  | "multicast"
  | "metadata"
  | "documentation"
  | "reserved"
  | "invalid";

const ALWAYS_REFUSED: ReadonlySet<AddressKind> = new Set(["unspecified", "multicast", "metadata", "invalid"]);

type Rule = readonly [prefix: string, bits: number, kind: AddressKind];

// First match wins, so the single metadata addresses come before the ranges that contain them.
const V4_RULES: readonly Rule[] = [
  ["169.254.169.254", 32, "metadata"], // AWS, GCP, Azure, OpenStack instance metadata
  ["100.100.100.200", 32, "metadata"], // Alibaba Cloud
  ["168.63.129.16", 32, "metadata"], // Azure wire server (a public address that only answers inside Azure)
  ["192.0.0.192", 32, "metadata"], // Oracle Cloud
  ["0.0.0.0", 8, "unspecified"], // "this network"; 0.0.0.0 connects to the local host on Linux
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "cgnat"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link_local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"], // IETF protocol assignments
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "reserved"], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"], // benchmarking
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"], // incl. 255.255.255.255 broadcast
];

const V6_RULES: readonly Rule[] = [
  ["fd00:ec2::254", 128, "metadata"], // AWS IMDS over IPv6
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["::", 8, "reserved"], // incl. deprecated IPv4-compatible ::a.b.c.d (mapped/NAT64 are handled before)
  ["64:ff9b:1::", 48, "reserved"], // local-use NAT64
  ["100::", 64, "reserved"], // discard-only
  ["2001::", 23, "reserved"], // IETF protocol assignments, incl. Teredo tunnels
  ["2001:db8::", 32, "documentation"],
  ["3fff::", 20, "documentation"],
  ["fc00::", 7, "unique_local"],
  ["fe80::", 10, "link_local"],
  ["fec0::", 10, "reserved"], // deprecated site-local
  ["ff00::", 8, "multicast"],
];

/** Network-order bytes of an IPv4 or IPv6 text address (brackets and a zone id allowed), or null. */
export function parseIp(text: string): Uint8Array | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return Uint8Array.from(s.split(".").map(Number));
  if (family !== 6) return null;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups, so one split handles both forms.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return bytes;
}

function inPrefix(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const mask = 0x80 >> (i % 8);
    if ((bytes[i >> 3]! & mask) !== (prefix[i >> 3]! & mask)) return false;
  }
  return true;
}

const compiled = (rules: readonly Rule[]) => rules.map(([p, bits, kind]) => ({ prefix: parseIp(p)!, bits, kind }));
const V4 = compiled(V4_RULES);
const V6 = compiled(V6_RULES);
const MAPPED = parseIp("::ffff:0:0")!;
const NAT64 = parseIp("64:ff9b::")!;
const SIX_TO_FOUR = parseIp("2002::")!;
const GLOBAL_UNICAST = parseIp("2000::")!;

function classifyV4(bytes: Uint8Array): AddressKind {
  return V4.find((r) => inPrefix(bytes, r.prefix, r.bits))?.kind ?? "public";
}

function classifyV6(bytes: Uint8Array): AddressKind {
  // IPv6 forms that carry an IPv4 address reach that address, so they are what it is:
  // ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64) and 2002:aabb:ccdd::/48 (6to4).
  if (inPrefix(bytes, MAPPED, 96) || inPrefix(bytes, NAT64, 96)) return classifyV4(bytes.subarray(12));
  if (inPrefix(bytes, SIX_TO_FOUR, 16)) return classifyV4(bytes.subarray(2, 6));
  const rule = V6.find((r) => inPrefix(bytes, r.prefix, r.bits));
  if (rule) return rule.kind;
  // Only 2000::/3 is allocated for global unicast; everything else is unassigned or special.
  return inPrefix(bytes, GLOBAL_UNICAST, 3) ? "public" : "reserved";
}

/** Classifies one IP address given as text ("10.0.0.1", "::ffff:127.0.0.1", "[fe80::1%eth0]"). */
export function classifyAddress(ip: string): AddressKind {
  const bytes = parseIp(ip);
  if (!bytes) return "invalid";
  return bytes.length === 4 ? classifyV4(bytes) : classifyV6(bytes);
}

/** Whether a webhook may connect to this address. */
export function isAllowedAddress(ip: string, opts: { allowPrivate: boolean }): boolean {
  const kind = classifyAddress(ip);
  return kind === "public" || (opts.allowPrivate && !ALWAYS_REFUSED.has(kind));
}
