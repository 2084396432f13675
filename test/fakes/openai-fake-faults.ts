/**
 * Fault injection for the OpenAI fake: which call fails, and how it looks on the wire. Every choice
 * goes through one seeded RNG, so a run with the same seed and the same call sequence fails the same
 * calls the same way.
 */
import type { ServerResponse } from "node:http";
import { errorBody, seededRng, sendJson } from "./openai-fake-util.js";

export type FaultKind = "429" | "500" | "503" | "timeout";
/** Which counter a call draws from: Files API, Batch API, or the real-time endpoints. */
export type CallKind = "files" | "batches" | "realtime";

export interface Faults {
  /** 0..1: probability that any control-plane or real-time call answers a fault instead. */
  rate: number;
  /** The faults `rate` and the counters pick from (seeded). Default ["500"]. */
  kinds: FaultKind[];
  /** Sent as `Retry-After` on 429s; unset = no header (so "no hint" is testable too). */
  retryAfterSeconds?: number;
  /** How long a `timeout` fault holds the socket before destroying it without an answer. */
  timeoutMs: number;
  /** Fail the next N calls to /v1/files…, /v1/batches…, or the real-time endpoints. */
  failFiles: number;
  failBatches: number;
  failRealtime: number;
  /**
   * The next N batch creates are carried out, then the connection is dropped before the answer:
   * the batch exists at the provider, but the caller never learns its id (a lost answer, or a
   * worker that died right after the provider accepted).
   */
  loseBatchCreates: number;
  /** Batches created while set fail their validation with `token_limit_exceeded`. */
  tokenLimitExceeded: boolean;
  /** Batches leaving in_progress while set expire instead of finalizing. */
  expire: boolean;
  /** Share of an expiring batch's requests that finished (the rest get `batch_expired`). Default 0.5. */
  expireAfterFraction: number;
  /** Output files written while set have one line cut in half (a corrupt JSONL line). */
  malformedOutput: boolean;
  /** Batch statuses spelled upper-case on the wire, as some OpenAI clones do. */
  upperCaseStatuses: boolean;
}

export const DEFAULT_FAULTS: Faults = {
  rate: 0,
  kinds: ["500"],
  timeoutMs: 2000,
  failFiles: 0,
  failBatches: 0,
  failRealtime: 0,
  loseBatchCreates: 0,
  tokenLimitExceeded: false,
  expire: false,
  expireAfterFraction: 0.5,
  malformedOutput: false,
  upperCaseStatuses: false,
};

const COUNTER: Record<CallKind, "failFiles" | "failBatches" | "failRealtime"> = {
  files: "failFiles",
  batches: "failBatches",
  realtime: "failRealtime",
};

export class FaultInjector {
  faults: Faults;
  private readonly rnd: () => number;
  /** Timers of requests a timeout fault is holding; cleared at close (the sockets go with the server). */
  private readonly held = new Set<NodeJS.Timeout>();

  constructor(seed: number, initial: Partial<Faults> = {}) {
    this.faults = { ...DEFAULT_FAULTS, ...initial };
    this.rnd = seededRng(seed ^ 0x5eed);
  }

  set(f: Partial<Faults>): void {
    this.faults = { ...this.faults, ...f };
  }

  /** The fault this call gets, if any: a pending counter first, then the `rate` draw. */
  pick(kind: CallKind): FaultKind | null {
    const f = this.faults;
    const counter = COUNTER[kind];
    let hit = false;
    if (f[counter] > 0) {
      f[counter] -= 1;
      hit = true;
    } else if (f.rate > 0 && this.rnd() < f.rate) hit = true;
    if (!hit || f.kinds.length === 0) return null;
    return f.kinds[Math.floor(this.rnd() * f.kinds.length)] ?? null;
  }

  /** Answers `kind` the way OpenAI's edge does (bodies as upstream sends them). */
  answer(kind: FaultKind, res: ServerResponse, requestId: string): void {
    const base = { "x-request-id": requestId };
    if (kind === "429") {
      const headers: Record<string, string> = { ...base };
      if (this.faults.retryAfterSeconds !== undefined) headers["retry-after"] = String(this.faults.retryAfterSeconds);
      sendJson(
        res,
        429,
        errorBody("Rate limit reached for requests per min (RPM). Please try again later.", "requests", null, "rate_limit_exceeded"),
        headers,
      );
    } else if (kind === "500") {
      sendJson(
        res,
        500,
        errorBody("The server had an error while processing your request. Sorry about that!", "server_error", null, null),
        base,
      );
    } else if (kind === "503") {
      sendJson(res, 503, errorBody("The engine is currently overloaded, please try again later.", "server_error", null, null), base);
    } else {
      // No answer at all: the client sees its own timeout, or a reset when the socket is destroyed.
      const t = setTimeout(() => {
        this.held.delete(t);
        res.socket?.destroy();
      }, this.faults.timeoutMs);
      this.held.add(t);
      res.on("close", () => {
        clearTimeout(t);
        this.held.delete(t);
      });
    }
  }

  close(): void {
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
  }
}
