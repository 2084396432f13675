import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { idemKey, makeItems, mustCreate, untilTerminal } from "./helpers/batches.js";
import { call, registerAgent, startTestServer, waitFor, type TestServer } from "./helpers/server.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";

let srv: TestServer;
// Live keys run on loopback fakes of OpenAI and Anthropic (test keys on the simulator).
let providers: LiveProviders;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: true });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});

async function liveAgent() {
  const agent = await registerAgent(srv.base);
  await post(srv.database.db, {
    org_id: agent.org_id,
    environment: "live",
    kind: "promo_grant",
    available_delta: 50_000_000,
    posting_key: "grant:feedback",
  });
  return agent;
}

const feedback = (key: string, id: string, body: unknown, headers: Record<string, string> = {}) =>
  call(srv.base, "POST", `/v1/batches/${id}/feedback`, { key, body, headers });
const laneQuality = () => srv.database.db("lane_quality").orderBy(["lane_id", "workload"]).select("*");

describe("feedback on a finished live batch", () => {
  it("records a rating, credits the lanes that served the items per workload, and shows it on /quality", async () => {
    const agent = await liveAgent();
    const key = agent.api_key;
    const items = [...makeItems(2, { prefix: "mini" }), ...makeItems(1, { prefix: "h", model: "claude-haiku-4" })];
    const batch = await mustCreate(srv.base, key, { items });
    await untilTerminal(srv.base, key, batch.id);
    const served = await srv.database.db("batch_items").where({ batch_id: batch.id }).select("customer_item_id", "lane_id");
    const laneOf = (id: string) => served.find((s: { customer_item_id: string }) => s.customer_item_id === id)!.lane_id as string;

    const first = await feedback(key, batch.id, { rating: 5, label: "accepted", reason: "All correct." });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      object: "feedback",
      batch_id: batch.id,
      environment: "live",
      score: 1,
      rating: 5,
      label: "accepted",
      reason: "All correct.",
      customer_item_ids: null,
      items_rated: 3,
      counts_toward_routing: true,
    });
    expect(first.body.id).toMatch(/^fb_/);
    expect(first.body.lanes).toEqual(
      expect.arrayContaining([
        { lane_id: laneOf("mini-0"), workload: "responses:gpt-4o-mini", items_rated: 2 },
        { lane_id: laneOf("h-0"), workload: "responses:claude-haiku-4", items_rated: 1 },
      ]),
    );
    expect(await laneQuality()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          lane_id: laneOf("mini-0"),
          workload: "responses:gpt-4o-mini",
          feedback_count: 1,
          score_sum: 1,
          items_rated: 2,
        }),
        expect.objectContaining({
          lane_id: laneOf("h-0"),
          workload: "responses:claude-haiku-4",
          feedback_count: 1,
          score_sum: 1,
          items_rated: 1,
        }),
      ]),
    );

    // A rating of named items touches only their lane; a 1..5 rating maps linearly onto 0..1.
    const second = await feedback(key, batch.id, { rating: 2, label: "rejected", customer_item_ids: ["mini-1", "mini-1"] });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ score: 0.25, customer_item_ids: ["mini-1"], items_rated: 1 });
    const rows = await laneQuality();
    expect(rows.find((r: { workload: string }) => r.workload === "responses:gpt-4o-mini")).toMatchObject({
      feedback_count: 2,
      score_sum: 1.25,
      items_rated: 3,
    });
    expect(rows.find((r: { workload: string }) => r.workload === "responses:claude-haiku-4")).toMatchObject({ feedback_count: 1 });

    const quality = await call(srv.base, "GET", `/v1/batches/${batch.id}/quality`, { key });
    expect(quality.status).toBe(200);
    expect(quality.body).toMatchObject({
      object: "batch_quality",
      batch_id: batch.id,
      status: "completed",
      counts_toward_routing: true,
      feedback: { count: 2, mean_score: 0.625, labels: { accepted: 1, rejected: 1 } },
    });
    expect(quality.body.feedback.recent.map((f: { id: string }) => f.id)).toEqual([second.body.id, first.body.id]);
    const mini = quality.body.provider_attribution.find((l: { lane_id: string }) => l.lane_id === laneOf("mini-0"));
    expect(mini).toMatchObject({
      items_served: 2,
      completed: 2,
      failed: 0,
      provider: laneOf("mini-0").split("/")[0],
      model: "gpt-4o-mini",
    });
    expect(mini.workloads).toEqual([
      expect.objectContaining({
        workload: "responses:gpt-4o-mini",
        items_served: 2,
        completed: 2,
        failed: 0,
        lane_quality: expect.objectContaining({ feedback_count: 2, mean_score: 0.625, items_rated: 3 }),
      }),
    ]);
  });

  it("replays a retried feedback with the same Idempotency-Key instead of counting it twice", async () => {
    const agent = await liveAgent();
    const batch = await mustCreate(srv.base, agent.api_key, { items: makeItems(1, { prefix: "idem", model: "gpt-4.1-nano" }) });
    await untilTerminal(srv.base, agent.api_key, batch.id);
    const headers = { "Idempotency-Key": idemKey("feedback") };
    const a = await feedback(agent.api_key, batch.id, { score: 0.9 }, headers);
    const b = await feedback(agent.api_key, batch.id, { score: 0.9 }, headers);
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(await srv.database.db("feedback").where({ batch_id: batch.id }).count("* as n")).toEqual([{ n: 1 }]);
  });
});

describe("test-environment feedback", () => {
  it("is stored and shown, but does not teach live routing", async () => {
    const agent = await registerAgent(srv.base);
    const key = agent.test_api_key;
    const batch = await mustCreate(srv.base, key, { items: makeItems(1, { prefix: "t", model: "llama-3.1-8b-instruct" }) });
    await untilTerminal(srv.base, key, batch.id);
    const before = await laneQuality();
    const res = await feedback(key, batch.id, { score: 0 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ environment: "test", counts_toward_routing: false, items_rated: 1 });
    expect(await laneQuality()).toEqual(before);
    const quality = await call(srv.base, "GET", `/v1/batches/${batch.id}/quality`, { key });
    expect(quality.body).toMatchObject({ counts_toward_routing: false, feedback: { count: 1, mean_score: 0 } });
  });
});

describe("which batches and items can be rated", () => {
  it("rates the completed items of a batch still running, and refuses items that have not completed", async () => {
    const agent = await liveAgent();
    const key = agent.api_key;
    const items = [...makeItems(1, { prefix: "fast" }), ...makeItems(1, { prefix: "slow", model: "claude-sonnet-4" })];
    // Anthropic keeps its batch in progress until released: the claude item stays open.
    providers.anthropic.hold();
    const batch = await mustCreate(srv.base, key, { items });
    await waitFor(
      async () => {
        const b = await call(srv.base, "GET", `/v1/batches/${batch.id}`, { key });
        return b.body.batch.counts.completed === 1 ? true : undefined;
      },
      20_000,
      "the fast item",
    );
    const ok = await feedback(key, batch.id, { score: 0.8 });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ items_rated: 1, lanes: [expect.objectContaining({ workload: "responses:gpt-4o-mini" })] });
    const pending = await feedback(key, batch.id, { score: 0.8, customer_item_ids: ["slow-0"] });
    expect(pending.status).toBe(409);
    expect(pending.body.error).toMatchObject({ code: "invalid_state", details: { not_completed: [{ customer_item_id: "slow-0" }] } });
    await call(srv.base, "POST", `/v1/batches/${batch.id}/cancel`, { key });
    providers.anthropic.release();
  });

  it("refuses a batch with no completed items", async () => {
    const agent = await liveAgent();
    const batch = await mustCreate(srv.base, agent.api_key, {
      // The OpenAI fake refuses this request with a 400: the item fails for good.
      items: makeItems(1, { prefix: "bad", text: () => "[fail:400]" }),
    });
    const done = await untilTerminal(srv.base, agent.api_key, batch.id);
    const res = await feedback(agent.api_key, batch.id, { rating: 1 });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: "invalid_state", details: { status: done.status } });
  });
});

describe("bad feedback", () => {
  let key: string;
  let batchId: string;
  beforeAll(async () => {
    const agent = await registerAgent(srv.base);
    key = agent.test_api_key;
    batchId = (await mustCreate(srv.base, key, { items: makeItems(2, { prefix: "v" }) })).id;
    await untilTerminal(srv.base, key, batchId);
  });

  it.each([
    [{}, "/score"],
    [{ score: 0.5, rating: 3 }, "/score"],
    [{ score: 1.5 }, "/score"],
    [{ rating: 0 }, "/rating"],
    [{ score: 1, label: "great" }, "/label"],
    [{ score: 1, reason: "x".repeat(2001) }, "/reason"],
    [{ score: 1, customer_item_ids: [] }, "/customer_item_ids"],
    [{ score: 1, extra: true }, "/"],
  ])("%j → 400 at %s", async (body, path) => {
    const res = await feedback(key, batchId, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it("names item ids that are not in the batch", async () => {
    const res = await feedback(key, batchId, { score: 1, customer_item_ids: ["v-0", "nope", "v-1", "other"] });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toMatchObject({
      errors: [{ path: "/customer_item_ids/1" }, { path: "/customer_item_ids/3" }],
      unknown_customer_item_ids: ["nope", "other"],
    });
  });

  it("hides other orgs' batches and checks the scope", async () => {
    const other = await registerAgent(srv.base);
    expect((await feedback(other.test_api_key, batchId, { score: 1 })).status).toBe(404);
    expect((await call(srv.base, "GET", `/v1/batches/${batchId}/quality`, { key: other.test_api_key })).status).toBe(404);
    expect((await feedback(key, "bat_unknown", { score: 1 })).body.error.code).toBe("not_found");
    const readOnly = await call(srv.base, "POST", "/v1/auth/account/api-keys", { key, body: { scopes: ["read"] } });
    const denied = await feedback(readOnly.body.api_key, batchId, { score: 1 });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "insufficient_scope", details: { required_scope: "feedback" } });
    expect((await call(srv.base, "GET", `/v1/batches/${batchId}/quality`, { key: readOnly.body.api_key })).status).toBe(200);
  });
});
