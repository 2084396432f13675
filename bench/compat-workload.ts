import OpenAI, { toFile } from "openai";

/**
 * The OpenAI-SDK batch workload of `npm run bench -- compat`, the same code whichever base URL the
 * client has: upload a JSONL file, batches.create, poll batches.retrieve until completed, and read
 * the output with files.content. Each step is timed on its own, so a path's cost can be compared
 * step by step with calling the provider directly.
 */

export const STEPS = ["upload", "create", "poll", "download"] as const;
export type Step = (typeof STEPS)[number];

/** A step's wall time, or why it could not be done on this path. */
export type StepResult = { ms: number } | { error: string };

export interface WorkloadRun {
  steps: Record<Step, StepResult>;
  /** batches.retrieve calls until completed. */
  polls: number;
  /** Lines of the downloaded output (0 when the download failed). */
  output_lines: number;
  /** The batch's id on this path, and Date.now() when create was answered and completed was seen (for profiles). */
  batch_id?: string;
  create_answered_at?: number;
  completed_seen_at?: number;
}

/** A chat-completions batch input file of `n` lines, as OpenAI documents it. */
export function chatInputFile(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        custom_id: `req-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: `Classify ticket ${i}: the export broke after release ${i % 9}.` }],
          max_tokens: 40,
        },
      }),
    );
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** The body of each client's latest error answer: the SDK keeps only an `error` field, which a peer's own 500 lacks. */
const errorBodies = new WeakMap<OpenAI, () => string | undefined>();

export function sdkClient(baseURL: string, apiKey: string, defaultHeaders?: Record<string, string>): OpenAI {
  let last: string | undefined;
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.ok) last = await res.clone().text();
    return res;
  };
  // No retries and a long timeout: a retried or timed-out call would hide what the path really did.
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 600_000, defaultHeaders, fetch: recording });
  errorBodies.set(client, () => last);
  return client;
}

/** How an SDK error reads in the report: "HTTP 500: <the message the server sent>". */
export function describeError(err: unknown, client?: OpenAI): string {
  if (err instanceof OpenAI.APIError) {
    let message = err.message.replace(/^\d+\s*/, "");
    const raw = client ? errorBodies.get(client)?.() : undefined;
    try {
      const body = JSON.parse(raw ?? "") as { message?: unknown; error?: { message?: unknown } };
      const m = body.error?.message ?? body.message;
      if (typeof m === "string") message = m;
    } catch {
      if (raw) message = raw;
    }
    return `HTTP ${err.status ?? "?"}: ${message.slice(0, 160)}`;
  }
  return err instanceof Error ? err.message.slice(0, 160) : String(err);
}

async function timed<T>(client: OpenAI, fn: () => Promise<T>): Promise<{ ms: number; value: T } | { error: string }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (err) {
    return { error: describeError(err, client) };
  }
}

export interface WorkloadOptions {
  file: Buffer;
  pollMs: number;
  /**
   * Where the input file goes when `client` can't take the upload (shared/stack.md reports the peer
   * answering 500 there), so the steps it can carry still run: the provider itself. Not timed.
   */
  uploadFallback?: OpenAI;
  /** Gives up polling after this long (a stuck pipeline must fail the bench, not hang it). */
  deadlineMs?: number;
}

/** Runs the four steps through `client`; a failed create or poll ends the run there. */
export async function runWorkload(client: OpenAI, opts: WorkloadOptions): Promise<WorkloadRun> {
  const skipped = { error: "not run: an earlier step failed" };
  const steps: Record<Step, StepResult> = { upload: skipped, create: skipped, poll: skipped, download: skipped };
  const run: WorkloadRun = { steps, polls: 0, output_lines: 0 };
  // toFile reads the buffer once; a fresh one per call so a failed attempt can't consume the fallback's.
  const upload = async (c: OpenAI) => c.files.create({ file: await toFile(opts.file, "batch.jsonl"), purpose: "batch" });

  const up = await timed(client, () => upload(client));
  steps.upload = "ms" in up ? { ms: up.ms } : up;
  let fileId: string;
  if ("value" in up) fileId = up.value.id;
  else if (opts.uploadFallback) fileId = (await upload(opts.uploadFallback)).id;
  else return run;

  const created = await timed(client, () =>
    client.batches.create({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" }),
  );
  steps.create = "ms" in created ? { ms: created.ms } : created;
  if (!("value" in created)) return run;
  run.batch_id = created.value.id;
  run.create_answered_at = Date.now();

  // Polls at a fixed interval on every path, so the interval quantises all of them alike.
  const polled = await timed(client, async () => {
    const deadline = performance.now() + (opts.deadlineMs ?? 600_000);
    for (;;) {
      await new Promise((r) => setTimeout(r, opts.pollMs));
      const b = await client.batches.retrieve(created.value.id);
      run.polls++;
      if (b.status === "completed") {
        run.completed_seen_at = Date.now();
        return b;
      }
      if (["failed", "expired", "cancelled", "cancelling"].includes(b.status))
        throw new Error(`batch ended ${b.status}: ${JSON.stringify(b.errors ?? b.request_counts).slice(0, 200)}`);
      if (performance.now() > deadline) throw new Error(`batch still ${b.status} after ${opts.deadlineMs} ms`);
    }
  });
  steps.poll = "ms" in polled ? { ms: polled.ms } : polled;
  if (!("value" in polled)) return run;
  const outputId = polled.value.output_file_id;
  if (!outputId) {
    steps.download = { error: "the completed batch has no output_file_id" };
    return run;
  }

  // Read as a stream, counting lines: the reader's memory stays flat (the 50k check measures RSS).
  const downloaded = await timed(client, async () => {
    const res = await client.files.content(outputId);
    let lines = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
    return lines;
  });
  if ("value" in downloaded) {
    steps.download = { ms: downloaded.ms };
    run.output_lines = downloaded.value;
  } else steps.download = downloaded;
  return run;
}

/**
 * The median round trip of one batches.retrieve of a finished batch, `n` calls `gapMs` apart: what
 * a poll costs on a path, apart from whatever the provider is busy with while a batch runs.
 */
export async function medianRetrieveMs(client: OpenAI, batchId: string, n = 30, gapMs = 20): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.batches.retrieve(batchId);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)]!;
}
