import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import { checkWebhookUrl, pinnedLookup, resolveAndCheck, WebhookRefusedError, type Resolver } from "./url-guard.js";

const strict = { allowPrivate: false };
const lax = { allowPrivate: true };

function rejection(url: string, opts = strict) {
  try {
    checkWebhookUrl(url, opts);
  } catch (e) {
    return e;
  }
  return null;
}

describe("checkWebhookUrl", () => {
  it("accepts public https URLs", () => {
    expect(checkWebhookUrl("https://hooks.example.com/batchrouter?x=1", strict).hostname).toBe("hooks.example.com");
    expect(checkWebhookUrl("https://8.8.8.8:8443/h", strict).port).toBe("8443");
    expect(checkWebhookUrl("https://[2606:4700:4700::1111]/h", strict).hostname).toBe("[2606:4700:4700::1111]");
  });

  it.each([
    ["http://hooks.example.com/", "must be an https URL"],
    ["ftp://hooks.example.com/", "must be an https URL"],
    ["not a url", "must be an absolute URL"],
    ["https://user:pw@hooks.example.com/", "must not contain a user name or password"],
    ["https://localhost/", "must name a public host"],
    ["https://api.localhost/", "must name a public host"],
    ["https://metadata.google.internal/", "must name a public host"],
    ["https://printer.local./", "must name a public host"],
    ["https://intranet/", "must name a public host"],
    ["https://127.0.0.1/", "must not point at a loopback address"],
    ["https://2130706433/", "must not point at a loopback address"], // WHATWG URL normalises to 127.0.0.1
    ["https://0x7f.1/", "must not point at a loopback address"],
    ["https://10.1.2.3/", "must not point at a private address"],
    ["https://169.254.169.254/latest/meta-data/", "must not point at a metadata address"],
    ["https://[::1]/", "must not point at a loopback address"],
    ["https://[::ffff:10.0.0.1]/", "must not point at a private address"],
    ["https://[fd00:ec2::254]/", "must not point at a metadata address"],
    ["https://0.0.0.0/", "must not point at an unspecified address"],
    [`https://example.com/${"a".repeat(2050)}`, "must be at most 2048 characters"],
  ])("refuses %s", (url, message) => {
    const e = rejection(url);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe("invalid_request");
    expect((e as AppError).details).toEqual({ errors: [{ path: "/webhook/url", message }] });
  });

  it("allows http and loopback when the operator allows private webhooks, but never a metadata address", () => {
    expect(checkWebhookUrl("http://127.0.0.1:8080/hook", lax).port).toBe("8080");
    expect(checkWebhookUrl("http://localhost:8080/hook", lax).hostname).toBe("localhost");
    expect(rejection("ftp://127.0.0.1/", lax)).toBeInstanceOf(AppError);
    expect((rejection("http://169.254.169.254/", lax) as AppError).details).toEqual({
      errors: [{ path: "/webhook/url", message: "must not point at a metadata address" }],
    });
  });
});

const resolver =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const ips = table[host];
    if (!ips) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return ips.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };

describe("resolveAndCheck", () => {
  const dns = resolver({
    "good.example": ["93.184.216.34", "2606:2800:220:1::1"],
    "private.example": ["10.0.0.5"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:192.168.0.10"],
    "empty.example": [],
  });

  it("returns the first resolved address to pin the connection to", async () => {
    const t = await resolveAndCheck("https://good.example/hook", { ...strict, resolve: dns });
    expect(t).toMatchObject({ address: "93.184.216.34", family: 4 });
    expect(t.url.href).toBe("https://good.example/hook");
  });

  it.each([
    ["private.example", "refused: private.example resolves to a private address"],
    ["mixed.example", "refused: mixed.example resolves to a loopback address"],
    ["metadata.example", "refused: metadata.example resolves to a metadata address"],
    ["mapped.example", "refused: mapped.example resolves to a private address"],
  ])("refuses %s for good", async (host, message) => {
    const p = resolveAndCheck(`https://${host}/`, { ...strict, resolve: dns });
    await expect(p).rejects.toBeInstanceOf(WebhookRefusedError);
    await expect(p).rejects.toThrow(message);
  });

  it("refuses IP literals and bad schemes without asking DNS", async () => {
    const never: Resolver = async () => {
      throw new Error("resolver must not be called");
    };
    await expect(resolveAndCheck("https://[fe80::1]/", { ...strict, resolve: never })).rejects.toThrow(
      "refused: the URL must not point at a link-local address",
    );
    await expect(resolveAndCheck("http://good.example/", { ...strict, resolve: never })).rejects.toBeInstanceOf(WebhookRefusedError);
    await expect(resolveAndCheck("https://8.8.4.4/", { ...strict, resolve: never })).resolves.toMatchObject({
      address: "8.8.4.4",
      family: 4,
    });
    await expect(resolveAndCheck("https://[2606:4700::1]/", { ...strict, resolve: never })).resolves.toMatchObject({
      address: "2606:4700::1",
      family: 6,
    });
  });

  it("treats DNS failures as retryable, not as refusals", async () => {
    const p = resolveAndCheck("https://missing.example/", { ...strict, resolve: dns });
    await expect(p).rejects.toThrow("DNS lookup of missing.example failed (ENOTFOUND)");
    await expect(p).rejects.not.toBeInstanceOf(WebhookRefusedError);
    await expect(resolveAndCheck("https://empty.example/", { ...strict, resolve: dns })).rejects.toThrow("returned no addresses");
  });

  it("with allowPrivate, allows loopback and private answers but never metadata", async () => {
    await expect(resolveAndCheck("http://private.example/", { ...lax, resolve: dns })).resolves.toMatchObject({ address: "10.0.0.5" });
    await expect(resolveAndCheck("http://127.0.0.1:9/", { ...lax, resolve: dns })).resolves.toMatchObject({ address: "127.0.0.1" });
    await expect(resolveAndCheck("http://metadata.example/", { ...lax, resolve: dns })).rejects.toBeInstanceOf(WebhookRefusedError);
    await expect(resolveAndCheck("http://169.254.169.254/", { ...lax, resolve: dns })).rejects.toBeInstanceOf(WebhookRefusedError);
  });
});

describe("pinnedLookup", () => {
  it("answers the checked address for any name, in both callback forms", () => {
    const lookup = pinnedLookup({ address: "93.184.216.34", family: 4 });
    const single: unknown[] = [];
    const all: unknown[] = [];
    (lookup as unknown as (h: string, o: object, cb: (...a: unknown[]) => void) => void)("evil.example", {}, (...a) => single.push(...a));
    (lookup as unknown as (h: string, o: object, cb: (...a: unknown[]) => void) => void)("evil.example", { all: true }, (...a) =>
      all.push(...a),
    );
    expect(single).toEqual([null, "93.184.216.34", 4]);
    expect(all).toEqual([null, [{ address: "93.184.216.34", family: 4 }]]);
  });
});
