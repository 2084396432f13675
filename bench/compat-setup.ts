import { post as postLedger } from "../server/billing/ledger.js";
import { startPortkey, type Peer } from "./compat-peer.js";
import { type BenchPlatform, post, startBenchPlatform } from "./harness.js";
import { type FakeProcess, startFakeProcess } from "./openai-fake-process.js";

/**
 * What the compat benchmarks run on: the OpenAI fake (own process) as the only configured provider
 * of a fresh platform, a funded LIVE key there (so a batch goes quote → route → reserve → dispatch to
 * the fake → collect → settle, never the simulator), and optionally the Portkey gateway in front of
 * the same fake.
 */
export const FAKE_KEY = "sk-live-fake-openai-0123456789";

export type PathName = "direct" | "ours" | "portkey";

/** Where an OpenAI client of a path points, and with which key and headers. */
export interface PathTarget {
  baseURL: string;
  apiKey: string;
  headers?: Record<string, string>;
}

export interface CompatSetup {
  fake: FakeProcess;
  platform: BenchPlatform;
  /** Each path's target; `portkey` only when the peer was asked for. */
  paths: Partial<Record<PathName, PathTarget>> & { direct: PathTarget; ours: PathTarget };
  peer: Peer | null;
  close(): Promise<void>;
}

/** Live keys start at zero credit; this grant covers every run of the benchmark many times over. */
const GRANT_MICROS = 1_000_000_000;

export async function setUpCompat(opts: { turnaroundMs: number; withPeer: boolean }): Promise<CompatSetup> {
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const s of started.reverse()) await s.close().catch((e: unknown) => console.error("closing:", e));
  };
  try {
    const fake = await startFakeProcess({ apiKey: FAKE_KEY, turnaroundMs: opts.turnaroundMs });
    started.push(fake);
    // Only OpenAI configured: the fake is the one live provider, as the issue asks.
    const platform = await startBenchPlatform({ OPENAI_API_KEY: FAKE_KEY, OPENAI_BASE_URL: `${fake.baseUrl}/v1` });
    started.push(platform);
    const reg = await post(platform.base, "/v1/auth/agent-register", null, {});
    if (reg.status !== 201) throw new Error(`agent-register answered ${reg.status}: ${JSON.stringify(reg.body)}`);
    const { api_key: liveKey, org_id: orgId } = reg.body as { api_key: string; org_id: string };
    if (!liveKey.startsWith("br_live_")) throw new Error("agent-register gave no live key");
    // The operator's grant, as `npm run admin -- credits grant` posts it.
    await postLedger(platform.db, {
      org_id: orgId,
      environment: "live",
      kind: "promo_grant",
      available_delta: GRANT_MICROS,
      posting_key: "grant:bench-compat",
    });
    const peer = opts.withPeer ? await startPortkey(`${fake.baseUrl}/v1`) : null;
    if (peer) started.push(peer);
    const paths: CompatSetup["paths"] = {
      direct: { baseURL: `${fake.baseUrl}/v1`, apiKey: FAKE_KEY },
      ours: { baseURL: `${platform.base}/v1/openai/v1`, apiKey: liveKey },
      // The peer forwards the caller's key: the provider's, as a Portkey user would send it.
      ...(peer ? { portkey: { baseURL: peer.baseURL, apiKey: FAKE_KEY, headers: peer.headers } } : {}),
    };
    return { fake, platform, paths, peer, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
