import { describe, expect, it } from "vitest";
import { classifyAddress, isAllowedAddress, parseIp, type AddressKind } from "./address-class.js";

const cases: Record<AddressKind, string[]> = {
  public: [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "::ffff:808:808",
    "64:ff9b::808:808",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
  ],
  unspecified: ["0.0.0.0", "0.1.2.3", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"],
  loopback: [
    "127.0.0.1",
    "127.255.255.254",
    "127.1.2.3",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "64:ff9b::127.0.0.1",
    "2002:7f00:1::",
  ],
  private: [
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    "::ffff:10.0.0.1",
    "::ffff:192.168.1.1",
    "::FFFF:C0A8:0101",
    "64:ff9b::10.1.2.3",
    "2002:c0a8:101::1",
  ],
  cgnat: ["100.64.0.0", "100.64.0.1", "100.127.255.255", "::ffff:100.64.1.1"],
  link_local: ["169.254.0.1", "169.254.169.253", "169.254.255.255", "fe80::1", "fe80::1%eth0", "febf:ffff::1", "::ffff:169.254.1.1"],
  unique_local: ["fc00::1", "fd12:3456:789a::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  multicast: ["224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3", "::ffff:224.0.0.251"],
  metadata: [
    "169.254.169.254",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "64:ff9b::169.254.169.254",
    "100.100.100.200",
    "168.63.129.16",
    "192.0.0.192",
  ],
  documentation: ["192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "3fff::1"],
  reserved: [
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "198.18.0.1",
    "198.19.255.255",
    "192.88.99.1",
    "::1.2.3.4",
    "::8.8.8.8",
    "100::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "fec0::1",
    "64:ff9b:1::1",
    "4000::1",
    "e000::1",
  ],
  invalid: ["", "localhost", "example.com", "1.2.3", "256.1.1.1", "1.2.3.4.5", "::g", "12345::", "010.0.0.1x"],
};

describe("classifyAddress", () => {
  for (const [kind, ips] of Object.entries(cases)) {
    it.each(ips)(`%s is ${kind}`, (ip) => {
      expect(classifyAddress(ip)).toBe(kind);
    });
  }

  it("accepts bracketed IPv6 as URLs write it", () => {
    expect(classifyAddress("[::1]")).toBe("loopback");
    expect(classifyAddress("[2606:4700:4700::1111]")).toBe("public");
  });
});

describe("parseIp", () => {
  it("expands IPv6 forms to the same 16 bytes", () => {
    const full = Array.from(parseIp("0000:0000:0000:0000:0000:ffff:0a00:0001")!);
    expect(Array.from(parseIp("::ffff:10.0.0.1")!)).toEqual(full);
    expect(Array.from(parseIp("::ffff:a00:1")!)).toEqual(full);
    expect(Array.from(parseIp("1::")!)).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(Array.from(parseIp("1:2:3:4:5:6:7:8")!)).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  });

  it("reads IPv4 as four bytes", () => {
    expect(Array.from(parseIp("192.168.1.254")!)).toEqual([192, 168, 1, 254]);
  });
});

describe("isAllowedAddress", () => {
  it("allows only public addresses by default", () => {
    for (const [kind, ips] of Object.entries(cases)) {
      for (const ip of ips) expect(isAllowedAddress(ip, { allowPrivate: false }), ip).toBe(kind === "public");
    }
  });

  it("with allowPrivate, also loopback and private ranges, never metadata, unspecified or multicast", () => {
    const never = new Set(["metadata", "unspecified", "multicast", "invalid"]);
    for (const [kind, ips] of Object.entries(cases)) {
      for (const ip of ips) expect(isAllowedAddress(ip, { allowPrivate: true }), ip).toBe(!never.has(kind));
    }
  });
});
