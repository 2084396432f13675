import { afterAll, beforeAll, it } from "vitest";
import { post } from "../server/billing/ledger.js";
import { makeItems } from "./helpers/batches.js";
import { type LiveProviders, liveProviders } from "./helpers/providers.js";
import { call, registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

let providers: LiveProviders;
let srv: TestServer;
beforeAll(async () => {
  providers = await liveProviders();
  srv = await startTestServer(providers.env, { worker: { retryBaseMs: 20 } });
});
afterAll(async () => {
  await srv?.close();
  await providers?.close();
});
it("explore", async () => {
  const agent = await registerAgent(srv.base);
  await post(srv.database.db, { org_id: agent.org_id, environment: "live", kind: "promo_grant", available_delta: 20_000_000, posting_key: "grant:live" });
  const items = [...makeItems(2, { prefix: "oa", model: "gpt-4o-mini" }), ...makeItems(2, { prefix: "an", model: "claude-haiku-4" })];
  for (const extra of [{}, { allowed_regions: ["us"] }]) {
    const q = await call(srv.base, "POST", "/v1/quotes/model", { key: agent.api_key, body: { items, ...extra } });
    console.log(JSON.stringify(extra), q.status, JSON.stringify(q.body.work_units, null, 0));
    for (const l of q.body.quote_lanes) console.log("  ", l.lane_id, l.selected, JSON.stringify(l.rejection_reasons?.map((r: any) => r.code)));
  }
});
