import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type Koa from "koa";
import { newId } from "../ids.js";

/** Node's parser codes for a request too large to read, and for one too slow to arrive. */
const STATUS_BY_CODE: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "The request's headers are too large."],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "The request took too long to arrive."],
};

/**
 * Answers a request Node's HTTP parser refused (a header value with a bare CR, LF, NUL or other
 * control character, a malformed request line…) in the error envelope with an X-Request-Id, instead
 * of Node's bare `400 Bad Request`: such a request never reaches Koa, so clients would otherwise get
 * the one answer of the API without a code to branch on.
 */
export function answerClientError(err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  // A reset or half-closed socket can take no answer (anything written would throw EPIPE), and a
  // keep-alive socket whose previous response is being written must not get a second one mixed in.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === "ECONNRESET" || !socket.writable || inFlight) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = STATUS_BY_CODE[err.code ?? ""] ?? [
    400,
    "Bad Request",
    "The request could not be parsed: a header or the request line is malformed (control characters such as CR, LF or NUL are not allowed in header values).",
  ];
  const requestId = newId("req");
  const body = JSON.stringify({
    error: { code: "invalid_request", message, details: { parser_code: err.code ?? null }, request_id: requestId },
  });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

interface InFlight {
  count: number;
  onIdle: Set<() => void>;
}

/** Requests each server is answering now (until their response is sent or the socket dies). */
const inFlight = new WeakMap<Server, InFlight>();
const TRACKED = Symbol("in-flight tracker");
type TrackedResponse = ServerResponse & { [TRACKED]?: InFlight };

/** One function for every response rather than a closure per request (this runs on every poll). */
function responseClosed(this: TrackedResponse): void {
  const t = this[TRACKED];
  if (!t) return;
  this[TRACKED] = undefined;
  if (--t.count > 0) return;
  for (const wake of t.onIdle) wake();
  t.onIdle.clear();
}

/**
 * `handle`, counting each request in flight on `server`. A wrapper rather than a second "request"
 * listener: Node copies an event's listener array on every emit when it holds more than one.
 */
function trackInFlight(server: Server, handle: RequestListener): RequestListener {
  const t: InFlight = { count: 0, onIdle: new Set() };
  inFlight.set(server, t);
  return (req, res: TrackedResponse) => {
    t.count++;
    res[TRACKED] = t;
    res.on("close", responseClosed);
    return handle(req, res);
  };
}

/**
 * Resolves once `server` answers no request, or after `timeoutMs`: true when it went idle. While
 * the app drains, new requests are refused at once (middleware/draining.ts), so this awaits the
 * ones that were already running, streamed downloads and uploads included.
 */
export function whenIdle(server: Server, timeoutMs: number): Promise<boolean> {
  const t = inFlight.get(server);
  if (!t || t.count === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      t.onIdle.delete(wake);
      resolve(false);
    }, timeoutMs);
    t.onIdle.add(wake);
  });
}

/** Stops listening and ends every connection: idle ones now, and — `force` — those still answering. */
export async function closeServer(server: Server, force: boolean): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  if (force) server.closeAllConnections();
  else server.closeIdleConnections();
  await closed;
}

/** An HTTP server for the Koa app, listening, with parser errors answered in the envelope. */
export async function listen(app: Pick<Koa, "callback">, port: number, host: string): Promise<Server> {
  const server = createServer();
  server.on("request", trackInFlight(server, app.callback()));
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
