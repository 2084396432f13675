import type { ProviderEndpoint } from "../../server/providers/endpoints.js";
import { providerFetch } from "./provider-fetch.js";
import { ProviderError } from "./types.js";

/**
 * The HTTP side of OpenAI-style APIs (OpenAI, Azure OpenAI, Groq, Together, DeepInfra, and any
 * OpenAI-compatible server): auth, Azure's paths and api-version, timeouts, and errors turned into
 * ProviderError with the provider's code, `Retry-After`, and any echoed key redacted. Plain fetch:
 * the same code speaks to the provider and, in tests, to a loopback fake of its protocol.
 */
export interface OpenAiHttp {
  json<T = Record<string, unknown>>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T>;
  /** POST multipart `/files` with a JSONL body and `purpose=batch`. */
  upload(filename: string, jsonl: Blob): Promise<{ id: string }>;
  /** GET a file's content as a byte stream (never read whole). */
  stream(path: string): Promise<ReadableStream<Uint8Array>>;
}

const TIMEOUT_MS = 60_000;
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

export function openAiHttp(endpoint: ProviderEndpoint, opts: { timeoutMs?: number } = {}): OpenAiHttp {
  const azure = endpoint.kind === "azure-openai";
  const url = (path: string) => {
    // Azure: {endpoint}/openai/{files|batches…}?api-version=…; the others: {base up to /v1}/{path}.
    if (!azure) return `${endpoint.baseUrl}${path}`;
    const sep = path.includes("?") ? "&" : "?";
    return `${endpoint.baseUrl}/openai${path}${sep}api-version=${encodeURIComponent(endpoint.apiVersion ?? "2024-10-21")}`;
  };
  const auth = (): Record<string, string> => {
    if (!endpoint.apiKey) return {};
    return azure ? { "api-key": endpoint.apiKey } : { Authorization: `Bearer ${endpoint.apiKey}` };
  };
  const send = (method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; timeoutMs?: number }) =>
    providerFetch(
      endpoint,
      {
        method,
        url: url(path),
        path,
        headers: { ...auth(), ...init.headers },
        body: init.body,
        timeoutMs: init.timeoutMs ?? opts.timeoutMs ?? TIMEOUT_MS,
      },
      readOpenAiError,
    );
  return {
    async json(method, path, body) {
      const res = await send(
        method,
        path,
        body === undefined ? {} : { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } },
      );
      return (await res.json()) as never;
    },
    async upload(filename, jsonl) {
      const form = new FormData();
      form.append("purpose", "batch");
      form.append("file", jsonl, filename);
      const res = await send("POST", "/files", { body: form, timeoutMs: UPLOAD_TIMEOUT_MS });
      return (await res.json()) as { id: string };
    },
    async stream(path) {
      const res = await send("GET", path, { timeoutMs: UPLOAD_TIMEOUT_MS });
      if (!res.body) throw new ProviderError({ code: "provider_error", message: `${endpoint.slug}: ${path} had no body` });
      return res.body;
    },
  };
}

/** OpenAI's error envelope `{error: {message, type, param, code}}`: its code, else (for a 4xx) its type. */
const readOpenAiError = (body: unknown, status: number) => {
  const e = (body as { error?: { code?: unknown; type?: unknown; message?: unknown } } | null)?.error;
  const code =
    typeof e?.code === "string" && e.code ? e.code : typeof e?.type === "string" && status < 500 && status !== 429 ? e.type : undefined;
  return { code, message: typeof e?.message === "string" ? e.message : undefined };
};

/**
 * The lines of a byte stream, decoded as UTF-8, one at a time: a results file is never held whole.
 * A connection that breaks or times out mid-download is a retryable ProviderError, so the pipeline
 * reads the job again with its own backoff.
 */
export async function* streamLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      rest += decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = rest.indexOf("\n"); nl !== -1; nl = rest.indexOf("\n", start)) {
        const line = rest.slice(start, nl).trim();
        if (line) yield line;
        start = nl + 1;
      }
      rest = rest.slice(start);
    }
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    const timeout = (err as Error).name === "TimeoutError";
    throw new ProviderError({
      code: timeout ? "timeout" : "network_error",
      message: `the download ${timeout ? "timed out" : "broke off"} midway`,
      cause: err,
    });
  }
  rest += decoder.decode();
  if (rest.trim()) yield rest.trim();
}
