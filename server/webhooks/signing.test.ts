import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signPayload, standardWebhookKey, verifyBatchRouterSignature, verifyStandardWebhook } from "./signing.js";

const body = JSON.stringify({ id: "evt_01", type: "batch.completed", data: { cost_usd: "1.250000", note: "é ✓" } });
const id = "evt_01hzy";
const ts = 1_750_000_000;

describe("signPayload", () => {
  it("signs the raw body (hex) and id.timestamp.body (base64), as computed independently", () => {
    const secret = "a-plain-secret-1234";
    const h = signPayload(body, secret, id, ts);
    expect(h["X-BatchRouter-Signature"]).toBe(createHmac("sha256", secret).update(body, "utf8").digest("hex"));
    expect(h["webhook-id"]).toBe(id);
    expect(h["webhook-timestamp"]).toBe(String(ts));
    const std = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${id}.${ts}.${body}`, "utf8").digest("base64");
    expect(h["webhook-signature"]).toBe(`v1,${std}`);
  });

  it("keys Standard Webhooks with the decoded bytes of a whsec_ secret, and the body scheme with the text", () => {
    const key = randomBytes(24);
    const secret = `whsec_${key.toString("base64")}`;
    const h = signPayload(body, secret, id, ts);
    expect(h["webhook-signature"]).toBe(`v1,${createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64")}`);
    expect(h["X-BatchRouter-Signature"]).toBe(createHmac("sha256", secret).update(body).digest("hex"));
    expect(standardWebhookKey("whsec_not base64!")).toEqual(Buffer.from("whsec_not base64!"));
  });
});

describe("verifiers", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const h = signPayload(body, secret, id, ts);
  const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

  it("accept a genuine delivery (record, lower-cased Node headers, fetch Headers, Buffer body)", () => {
    expect(verifyBatchRouterSignature(body, secret, h["X-BatchRouter-Signature"])).toBe(true);
    expect(verifyBatchRouterSignature(Buffer.from(body), secret, lower)).toBe(true);
    expect(verifyBatchRouterSignature(body, secret, new Headers(h))).toBe(true);
    expect(verifyStandardWebhook(body, secret, h, { nowS: ts + 10 })).toEqual({ ok: true });
    expect(verifyStandardWebhook(Buffer.from(body), secret, new Headers(lower), { nowS: ts - 10 })).toEqual({ ok: true });
  });

  it("reject a tampered body, another secret or a missing header", () => {
    const tampered = body.replace("1.250000", "0.000001");
    expect(verifyBatchRouterSignature(tampered, secret, h["X-BatchRouter-Signature"])).toBe(false);
    expect(verifyBatchRouterSignature(body, "whsec_other", h["X-BatchRouter-Signature"])).toBe(false);
    expect(verifyBatchRouterSignature(body, secret, undefined)).toBe(false);
    expect(verifyStandardWebhook(tampered, secret, h, { nowS: ts })).toEqual({ ok: false, reason: "no matching v1 signature" });
    expect(verifyStandardWebhook(body, "whsec_b3RoZXI=", h, { nowS: ts }).ok).toBe(false);
    expect(verifyStandardWebhook(body, secret, { ...h, "webhook-id": "evt_other" }, { nowS: ts }).ok).toBe(false);
    expect(verifyStandardWebhook(body, secret, { "webhook-id": id }, { nowS: ts }).ok).toBe(false);
  });

  it("reject a replay outside the tolerance (5 min by default)", () => {
    expect(verifyStandardWebhook(body, secret, h, { nowS: ts + 301 })).toEqual({
      ok: false,
      reason: "webhook-timestamp is outside the tolerance",
    });
    expect(verifyStandardWebhook(body, secret, h, { nowS: ts + 301, toleranceS: 600 })).toEqual({ ok: true });
  });

  it("accept any matching entry of a space-separated signature list (secret rotation)", () => {
    const list = `v1,${Buffer.from("nope").toString("base64")} ${h["webhook-signature"]}`;
    expect(verifyStandardWebhook(body, secret, { ...h, "webhook-signature": list }, { nowS: ts })).toEqual({ ok: true });
    expect(
      verifyStandardWebhook(body, secret, { ...h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,") }, { nowS: ts }).ok,
    ).toBe(false);
  });
});
