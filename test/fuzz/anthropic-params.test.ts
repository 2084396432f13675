import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { registerAgent, startTestServer } from "../helpers/server.js";
import { answerProblems, describeExchange, send } from "./answer-checks.js";
import { badJsonBodies } from "./body-mutations.js";
import { anthropicCreateBatch } from "./targets.js";

// Anthropic validates a batch's requests one by one, after the create: a request whose `params` break
// its contract is that request's `errored` result, in a batch that is accepted (issue 12). So here a
// generated bad create may be refused (its envelope is bad, or it holds text no route takes) or
// accepted — but then every request must be `errored`, none left to run, and never a 5xx.

const SEED = Number(process.env.FUZZ_SEED ?? 1_300_006);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const PATH = "/v1/anthropic/v1/messages/batches";

const srv = await startTestServer({ RATE_LIMIT_PER_KEY_PER_MIN: "1000000", RATE_LIMIT_PER_IP_PER_MIN: "1000000" });
afterAll(async () => srv.close());
const key = (await registerAgent(srv.base)).test_api_key;

describe("Anthropic creates with bad params", () => {
  it("are refused in Anthropic's envelope, or accepted with every bad request errored — never a 5xx", async () => {
    const failures: string[] = [];
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(badJsonBodies(anthropicCreateBatch), async (bad) => {
        const req = {
          method: "POST",
          path: PATH,
          headers: { "Content-Type": "application/json" },
          body: Buffer.from(bad.text),
          note: bad.note,
        };
        const res = await send(srv.base, key, req, {});
        const seen = describeExchange(req, res);
        if (res.status >= 200 && res.status < 300) {
          accepted++;
          const counts = JSON.parse(res.text).request_counts as Record<string, number> | undefined;
          if (!bad.note.includes("params")) failures.push(`a bad envelope accepted :: ${seen}`);
          else if (!counts || counts.processing !== 0 || !(counts.errored >= 1)) failures.push(`a bad request left to run :: ${seen}`);
          return;
        }
        const problems = answerProblems(req, res);
        if (problems.length > 0) failures.push(`${problems.join("; ")} :: ${seen}`);
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
    expect(failures.slice(0, 10), `${failures.length} wrong (seed ${SEED})`).toEqual([]);
    // Both outcomes were reached: the generator does put bad values inside params.
    expect(accepted).toBeGreaterThan(0);
  });
});
