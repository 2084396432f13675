import { describe, expect, it } from "vitest";
import { metricsAccessError } from "./access.js";

const TOKEN = "a-metrics-token-of-some-length";
const from = (remoteAddress: string, extra: { authorization?: string; forwarded?: boolean } = {}) => ({
  remoteAddress,
  authorization: extra.authorization,
  forwarded: extra.forwarded ?? false,
});

describe("who may read /metrics", () => {
  it("without a token: direct loopback peers only", () => {
    for (const addr of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) expect(metricsAccessError(undefined, from(addr))).toBeNull();
    for (const addr of ["10.0.0.5", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1", ""]) {
      expect(metricsAccessError(undefined, from(addr))?.code).toBe("forbidden");
    }
    // A proxy on the same host connects from loopback; what it forwards is someone else's request.
    expect(metricsAccessError(undefined, from("127.0.0.1", { forwarded: true }))?.code).toBe("forbidden");
  });

  it("with a token: that bearer token, from anywhere, and nothing else", () => {
    expect(metricsAccessError(TOKEN, from("203.0.113.7", { authorization: `Bearer ${TOKEN}` }))).toBeNull();
    expect(metricsAccessError(TOKEN, from("203.0.113.7", { authorization: `bearer ${TOKEN}` }))).toBeNull();
    for (const authorization of [undefined, "", TOKEN, `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN}0`, `Basic ${TOKEN}`]) {
      const e = metricsAccessError(TOKEN, from("127.0.0.1", { authorization }));
      expect(e?.code, String(authorization)).toBe("unauthorized");
      expect(e?.status).toBe(401);
    }
  });
});
