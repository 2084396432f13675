import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { type AppError, fail } from "../errors.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import { metricsAccessError } from "./access.js";
import { renderMetrics } from "./exposition.js";

/**
 * The METRICS_PORT listener: GET /metrics alone, under the same access rule as the API's route. It
 * is how a worker-only process (no API port) is scraped, and lets any role keep metrics off the
 * public port's network. Plain node:http — it serves one text body, and only server/http uses Koa.
 */
export async function startMetricsServer(opts: {
  port: number;
  host: string;
  token: string | undefined;
  scrape?: Registry;
  logger: Logger;
}): Promise<Server> {
  const server = createServer(async (req, res) => {
    const requestId = newId("req");
    const answerError = (e: AppError) => {
      res.writeHead(e.status, { "Content-Type": "application/json; charset=utf-8", "X-Request-Id": requestId });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details ?? {}, request_id: requestId } }));
    };
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      return answerError(fail.notFound(`No route for ${req.method} ${path}; this port serves GET /metrics.`));
    }
    const refused = metricsAccessError(opts.token, {
      authorization: req.headers.authorization,
      remoteAddress: req.socket.remoteAddress,
      forwarded: Boolean(req.headers["x-forwarded-for"] || req.headers.forwarded),
    });
    if (refused) return answerError(refused);
    try {
      const { contentType, body } = await renderMetrics(opts.scrape);
      res.writeHead(200, { "Content-Type": contentType, "X-Request-Id": requestId });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (err) {
      opts.logger.error({ err, request_id: requestId }, "metrics scrape failed");
      answerError(fail.internalError("The metrics could not be collected; the request id identifies it in our logs."));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
