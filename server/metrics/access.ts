import { createHash, timingSafeEqual } from "node:crypto";
import { type AppError, fail } from "../errors.js";

export interface MetricsRequest {
  /** The Authorization header as sent. */
  authorization: string | undefined;
  /** The TCP peer (the socket's address, never X-Forwarded-For). */
  remoteAddress: string | undefined;
  /** Whether the request came through a proxy (X-Forwarded-For or Forwarded present). */
  forwarded: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Who may read /metrics — the one rule, for the API port and the METRICS_PORT listener alike:
 *
 * * METRICS_TOKEN set: `Authorization: Bearer <token>` is required, from anywhere (compared in
 *   constant time, over digests so the length leaks nothing either); else 401.
 * * METRICS_TOKEN unset: only a direct loopback peer — a scraper on the same host — with no proxy
 *   header. A reverse proxy on the same host also connects from loopback, so a request it forwards
 *   (it adds X-Forwarded-For) is refused: the public can't read metrics through it. Else 403.
 *
 * Returns the error to answer with, or null when the request may read.
 */
export function metricsAccessError(token: string | undefined, req: MetricsRequest): AppError | null {
  if (token) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.authorization ?? "");
    if (m && timingSafeEqual(digest(m[1]!), digest(token))) return null;
    return fail.unauthorized(
      "GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.",
      {},
      { "WWW-Authenticate": 'Bearer realm="metrics"' },
    );
  }
  if (LOOPBACK.test(req.remoteAddress ?? "") && !req.forwarded) return null;
  return fail.forbidden("/metrics is served only to loopback clients unless METRICS_TOKEN is set.");
}
