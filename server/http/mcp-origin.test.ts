import { describe, expect, it } from "vitest";
import { checkMcpOrigin, type OriginGuardConfig } from "./mcp-origin.js";

const loopback: OriginGuardConfig = { HOST: "127.0.0.1", BATCHROUTER_ALLOWED_ORIGINS: [] };
const ok = (config: OriginGuardConfig, origin: string | undefined, host: string | undefined) =>
  checkMcpOrigin(config, { origin, host }) === undefined;

describe("checkMcpOrigin: Origin", () => {
  it("serves requests without an Origin (agents, SDKs)", () => {
    expect(ok(loopback, undefined, "127.0.0.1:8080")).toBe(true);
    expect(ok(loopback, undefined, undefined)).toBe(true);
  });

  it("takes a loopback origin only when it names the request's own host:port", () => {
    expect(ok(loopback, "http://127.0.0.1:8080", "127.0.0.1:8080")).toBe(true);
    expect(ok(loopback, "http://localhost:8080", "LOCALHOST:8080")).toBe(true);
    expect(ok({ ...loopback, HOST: "::1" }, "http://[::1]:8080", "[::1]:8080")).toBe(true);
    expect(ok(loopback, "http://localhost", "localhost:80")).toBe(true); // default port either way
    expect(ok(loopback, "http://localhost:3000", "localhost:8080")).toBe(false); // another local app
    expect(ok(loopback, "http://localhost:8080", "127.0.0.1:8080")).toBe(false);
    expect(ok(loopback, "https://localhost:8080", "localhost:8080")).toBe(true);
    expect(ok(loopback, "http://127.0.0.1:8080", undefined)).toBe(false);
    expect(ok(loopback, "http://127.0.0.2:8080", "127.0.0.2:8080")).toBe(false);
  });

  it("refuses foreign, opaque and malformed origins", () => {
    for (const origin of ["http://evil.example.com", "null", "", "not a url", "file://", "http://127.0.0.1:8080.evil.example.com"]) {
      expect(checkMcpOrigin(loopback, { origin, host: "127.0.0.1:8080" }), origin).toMatch(/BATCHROUTER_ALLOWED_ORIGINS/);
    }
  });

  it("takes BATCHROUTER_PUBLIC_URL's origin and the allowed origins, compared normalised", () => {
    const config: OriginGuardConfig = {
      HOST: "0.0.0.0",
      BATCHROUTER_PUBLIC_URL: "https://BR.example.com:443/api/",
      BATCHROUTER_ALLOWED_ORIGINS: ["https://console.example.com/", "http://tools.example.com:8081"],
    };
    expect(ok(config, "https://br.example.com", "br.example.com")).toBe(true);
    expect(ok(config, "https://console.example.com:443", "br.example.com")).toBe(true);
    expect(ok(config, "http://tools.example.com:8081", "br.example.com")).toBe(true);
    expect(ok(config, "http://br.example.com", "br.example.com")).toBe(false); // scheme differs
    expect(ok(config, "https://console.example.com:8443", "br.example.com")).toBe(false); // port differs
    expect(ok(config, "https://sub.console.example.com", "br.example.com")).toBe(false);
  });
});

describe("checkMcpOrigin: Host (DNS rebinding)", () => {
  it("refuses names that are not ours while bound to loopback", () => {
    for (const host of ["evil.example.com", "evil.example.com:8080", "localhost@evil.example.com", "127.0.0.1/x", "", "a b"]) {
      expect(checkMcpOrigin(loopback, { host }), host).toMatch(/Host/);
    }
    for (const host of ["127.0.0.1:8080", "localhost:8080", "LocalHost", "[::1]:8080"]) {
      expect(ok(loopback, undefined, host), host).toBe(true);
    }
    expect(ok({ ...loopback, HOST: "localhost" }, undefined, "evil.example.com")).toBe(false);
  });

  it("knows the public URL's name, a specific bind address and the allowed origins' names", () => {
    const config: OriginGuardConfig = {
      HOST: "10.0.0.5",
      BATCHROUTER_PUBLIC_URL: "https://br.example.com",
      BATCHROUTER_ALLOWED_ORIGINS: ["https://console.example.com"],
    };
    for (const host of ["br.example.com", "BR.example.com:443", "10.0.0.5:8080", "console.example.com", "localhost:8080"]) {
      expect(ok(config, undefined, host), host).toBe(true);
    }
    expect(ok(config, undefined, "evil.example.com")).toBe(false);
    expect(ok(config, undefined, "10.0.0.6")).toBe(false);
    // A wildcard bind is no name of ours.
    expect(ok({ ...config, HOST: "0.0.0.0" }, undefined, "0.0.0.0:8080")).toBe(false);
  });

  it("skips the Host check on a wildcard bind without a public URL, but still checks Origin", () => {
    for (const HOST of ["0.0.0.0", "::", "10.0.0.5"]) {
      const open: OriginGuardConfig = { HOST, BATCHROUTER_ALLOWED_ORIGINS: [] };
      expect(ok(open, undefined, "batchrouter.internal:8080"), HOST).toBe(true);
      expect(ok(open, "http://evil.example.com", "batchrouter.internal:8080"), HOST).toBe(false);
    }
  });

  it("refuses a rebinding page even when its Origin matches its own Host", () => {
    expect(ok(loopback, "http://evil.example.com:8080", "evil.example.com:8080")).toBe(false);
  });
});
