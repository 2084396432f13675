import fs from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { call, registerAgent, startTestServer } from "../helpers/server.js";
import { answerProblems, describeExchange, type FuzzRequest, idempotencyRowsProblems, rowCounts, send } from "./answer-checks.js";
import { sampleOf, violates } from "./json-schema.js";
import { badUploads } from "./manifest-inputs.js";
import { badWireBodies } from "./raw-bodies.js";
import { COMPAT_TARGETS, fillPath, pathId, type Target, targetsFromOpenApi } from "./targets.js";

// Issue 13 part 6: generated bad requests against every POST/PUT/PATCH of /v1/openapi.json and the
// upload and compatible paths. Each must be refused with a 4xx in its surface's envelope, never a 5xx,
// and nothing may be stored. FUZZ_SEED and FUZZ_RUNS reproduce or widen a run.

const SEED = Number(process.env.FUZZ_SEED ?? 1_300_006);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
// Uploads have more to get wrong (raw and multipart, lines, headers, framing): twice the runs.
const UPLOAD_RUNS = RUNS * 2;
console.log(
  `fuzz: seed ${SEED}, ${RUNS} runs per endpoint (${UPLOAD_RUNS} per upload path); FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} reproduces`,
);

// Limits raised as bench/harness.ts does, so a 429 can't stand in for the answer under test.
const srv = await startTestServer({
  RATE_LIMIT_PER_KEY_PER_MIN: "1000000",
  RATE_LIMIT_PER_IP_PER_MIN: "1000000",
  AGENT_REGISTER_PER_IP_PER_HOUR: "1000000",
});
afterAll(async () => srv.close());
const agent = await registerAgent(srv.base);
const key = agent.test_api_key;
const openapi = await call(srv.base, "GET", "/v1/openapi.json");
const targets: Target[] = [...targetsFromOpenApi(openapi.body), ...COMPAT_TARGETS];
const countsBefore = await rowCounts(srv.database.db);
const startedAt = (await srv.database.db.raw("select now() as t")).rows[0].t as Date;

// FUZZ_TRACE=<file> writes every exchange there, one line each, to see what the generators produce.
const trace = process.env.FUZZ_TRACE ? fs.createWriteStream(process.env.FUZZ_TRACE) : undefined;
afterAll(() => trace?.end());

const sentPerEndpoint = new Map<string, number>();
let idempotencySeq = 0;

/** The Idempotency-Key to send: a fresh valid one, none, or one of the wrong length (itself a 400). */
function idempotencyHeader(required: boolean): fc.Arbitrary<Record<string, string>> {
  const fresh = fc.constant(null).map(() => ({ "Idempotency-Key": `fuzz-${SEED}-${++idempotencySeq}` }));
  const wrong = fc.constantFrom("short", "k".repeat(129)).map((k) => ({ "Idempotency-Key": k }));
  return required
    ? fc.oneof({ weight: 8, arbitrary: fresh }, { weight: 1, arbitrary: wrong }, { weight: 1, arbitrary: fc.constant({}) })
    : fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: fresh }, { weight: 1, arbitrary: wrong });
}

// Riders on a request that is bad anyway: query values no route may store (the raw upload reads
// `filename`), and client request ids that must not be echoed unless sane.
const QUERY_NOISE = fc.oneof(
  { weight: 6, arbitrary: fc.constant("") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "?filename=%00",
      "?filename=%ED%A0%80",
      `?filename=${"n".repeat(5000)}`,
      "?filename=..%2F..%2Fetc%2Fpasswd",
      "?%FF=1",
      "?a[b][c]=1&a=2",
    ),
  },
);
const REQUEST_ID_NOISE = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom("../../x", "r".repeat(300), "<script>", "req id").map((v) => ({ "X-Request-Id": v })) },
);

/** Bad requests for one endpoint: a bad body (or upload) at its path, ids filled with ids that name nothing. */
function requestsFor(t: Target): fc.Arbitrary<{ req: FuzzRequest; extra: Record<string, string> }> {
  const bodies = t.upload
    ? fc.oneof(
        { weight: 1, arbitrary: badWireBodies(undefined) },
        { weight: 3, arbitrary: badUploads(t.upload.kinds, t.upload.needsPurpose) },
      )
    : badWireBodies(t.schema);
  const path = t.path.includes("{") ? pathId.map((id) => fillPath(t.path, id)) : fc.constant(t.path);
  return fc
    .tuple(path, QUERY_NOISE, bodies, idempotencyHeader(t.idempotencyRequired), REQUEST_ID_NOISE)
    .map(([p, q, b, idem, rid]) => ({ req: { method: t.method, path: p + q, ...b }, extra: { ...idem, ...rid } }));
}

/** A seed per endpoint, stable when other endpoints come and go. */
const seedFor = (t: Target) => [...`${t.method} ${t.path}`].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, SEED);

describe("bad requests", () => {
  it("the OpenAPI document lists the write endpoints the fuzzer needs to reach", () => {
    const paths = targets.map((t) => `${t.method} ${t.path}`);
    // Not the full list (it grows): the ones whose absence would mean the document broke.
    for (const p of ["POST /v1/batches", "POST /v1/quotes/model", "POST /v1/batches/input-manifests", "POST /v1/files"]) {
      expect(paths).toContain(p);
    }
    expect(targets.every((t) => t.schema || t.upload || t.path.includes("{"))).toBe(true);
    // The valid-looking sample passes its own schema, so what makes a generated body bad is the
    // mutation the generator made — the schema check that justifies "must be refused" is not vacuous.
    for (const t of targets.filter((t) => t.schema)) expect(violates(t.schema!, sampleOf(t.schema!)), `${t.method} ${t.path}`).toBe(false);
  });

  for (const target of targets) {
    const label = `${target.method} ${target.path}`;
    it(`${label}: every bad request gets a 4xx in the envelope, never a 5xx`, async () => {
      const failures: string[] = [];
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(requestsFor(target), async ({ req, extra }) => {
          const res = await send(srv.base, key, req, extra);
          sent++;
          trace?.write(`${describeExchange(req, res)}\n`);
          const problems = answerProblems(req, res);
          if (problems.length > 0) failures.push(`${problems.join("; ")} :: ${describeExchange(req, res)}`);
        }),
        { seed: seedFor(target), numRuns: target.upload ? UPLOAD_RUNS : RUNS },
      );
      sentPerEndpoint.set(label, sent);
      expect(failures.slice(0, 10), `${failures.length} of ${sent} answers were wrong (seed ${SEED})`).toEqual([]);
    });
  }

  it("stored nothing: every table a rejected request could write has as many rows as before", async () => {
    const db = srv.database.db;
    expect(await rowCounts(db)).toEqual(countsBefore);
    expect(await idempotencyRowsProblems(db, startedAt)).toEqual([]);
    const total = [...sentPerEndpoint.values()].reduce((a, b) => a + b, 0);
    console.log(
      `fuzz: ${total} bad requests over ${sentPerEndpoint.size} endpoints\n${[...sentPerEndpoint].map(([e, n]) => `  ${n}\t${e}`).join("\n")}`,
    );
    if (process.env.FUZZ_RUNS === undefined) expect(total).toBeGreaterThanOrEqual(1000);
  });
});
