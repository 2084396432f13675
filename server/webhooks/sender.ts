import http from "node:http";
import https from "node:https";
import { pinnedLookup, type WebhookTarget } from "./url-guard.js";

export interface PostRequest {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** Sends one webhook POST to a checked target and reports the receiver's status code. */
export type WebhookPost = (target: WebhookTarget, request: PostRequest) => Promise<{ status: number }>;

/** Our own readable failure text for the attempt log (customers read it), from a Node socket error. */
function describe(err: Error & { code?: string }): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset by the receiver";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "CERT_HAS_EXPIRED":
      return "TLS certificate has expired";
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
      return "TLS certificate is self-signed";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "TLS certificate does not match the host name";
    default:
      return err.code ? `${err.message} (${err.code})` : err.message;
  }
}

/**
 * The default sender: node:http(s) with the connection pinned to the checked address, so DNS is
 * never asked again between the check and the connect (rebinding). TLS still verifies the
 * certificate against the URL's host name, since only the socket's address is pinned. Redirects
 * are not followed (a 3xx is a failed attempt), since a redirect could lead to a private address.
 * The deadline covers connect, TLS and the response headers; the body is drained and ignored.
 */
export const postPinned: WebhookPost = (target, request) =>
  new Promise((resolve, reject) => {
    const client = target.url.protocol === "https:" ? https : http;
    const req = client.request(target.url, {
      method: "POST",
      headers: { ...request.headers, "Content-Length": String(Buffer.byteLength(request.body)) },
      lookup: pinnedLookup(target),
      // A fresh connection per attempt: a pooled socket could have been opened for another address.
      agent: false,
    });
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error(`no response within ${request.timeoutMs / 1000} s`), { code: "ETIMEDOUT_WEBHOOK" })),
      request.timeoutMs,
    );
    req.on("response", (res) => {
      clearTimeout(timer);
      resolve({ status: res.statusCode ?? 0 });
      // Drain without keeping it; a receiver streaming forever is cut off after the same deadline.
      const cut = setTimeout(() => res.destroy(), request.timeoutMs);
      res.on("close", () => clearTimeout(cut));
      res.resume();
    });
    req.on("error", (err: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(new Error(err.code === "ETIMEDOUT_WEBHOOK" ? err.message : describe(err)));
    });
    req.end(request.body);
  });
