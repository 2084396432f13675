import readline from "node:readline";
import { Readable } from "node:stream";
import * as batchesQ from "../../../db/queries/batches.js";
import { getFile } from "../../../db/queries/files.js";
import type { Actor } from "../../accounts/actor.js";
import { createBatch, type BatchDeps } from "../../batches/create.js";
import { createBatchSchema } from "../../batches/schemas.js";
import { errors, fail } from "../../errors.js";
import { validationError } from "../../validation.js";
import type { OpenAiEndpoint } from "./batch-object.js";
import { lineEndpointProblem, routingFromMetadata, type OpenAiCreateBatch } from "./create-request.js";
import { presentOpenAiBatch } from "./batches.js";

const MAX_LISTED = 100;

/**
 * Reads the stored upload line by line (flat memory) and lists the lines whose `url` isn't the
 * batch's endpoint. Items keep no URL, so this is the one place the check can happen; the upload
 * already refused bad JSON, missing or duplicate `custom_id`s.
 */
async function endpointProblems(source: NodeJS.ReadableStream, endpoint: OpenAiEndpoint) {
  const problems: { line: number; code: string; message: string }[] = [];
  const input = Readable.from(source as AsyncIterable<Buffer>);
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n++;
      if (text.trim() === "") continue;
      const problem = lineEndpointProblem(parseLine(n === 1 ? text.replace(/^\uFEFF/, "") : text), endpoint);
      if (problem) problems.push({ line: n, code: "mismatched_endpoint", message: problem });
      if (problems.length >= MAX_LISTED) break;
    }
  } finally {
    // Stopping early must still release the stored object's handle (a file descriptor, a socket).
    rl.close();
    input.destroy();
  }
  return problems;
}

// Every line passed the upload's checks; should one still not parse here, it is told as a line
// that doesn't fit rather than as a 500.
function parseLine(text: string): { url?: unknown; body?: unknown } {
  try {
    return JSON.parse(text) as { url?: unknown; body?: unknown };
  } catch {
    return { url: undefined };
  }
}

/**
 * OpenAI's create → our create: the file's items routed like any manifest (cheapest, standard,
 * unless metadata says otherwise), credits reserved at once, the same batch id on both surfaces.
 * A file that doesn't fit the endpoint is refused before anything is reserved (400, line-numbered).
 */
export async function createOpenAiBatch(deps: BatchDeps, actor: Actor, body: OpenAiCreateBatch) {
  const file = await getFile(deps.db, actor.org_id, actor.environment, body.input_file_id);
  if (file?.purpose !== "batch") throw errors.notFound("file");
  if (file.format !== "openai") {
    throw errors.invalidRequest("The input file is not in OpenAI's batch format: each line must be {custom_id, method, url, body}.", [
      { path: "/input_file_id", message: `file format is ${file.format}` },
    ]);
  }
  const problems = await endpointProblems((await deps.artifacts.open(file.storage_key)).body, body.endpoint);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw fail.preflightFailed(`The input file does not fit endpoint ${body.endpoint}: line ${first.line}: ${first.message}.`, {
      preflight: problems,
    });
  }
  const request = createBatchSchema.safeParse({
    input_file_id: file.id,
    ...(body.metadata ? { metadata: body.metadata } : {}),
    ...routingFromMetadata(body.metadata),
  });
  if (!request.success) throw validationError("body", request.error);
  const created = await createBatch(deps, actor, request.data);
  return presentOpenAiBatch(deps.db, (await batchesQ.getBatch(deps.db, actor.org_id, actor.environment, created.id))!);
}
