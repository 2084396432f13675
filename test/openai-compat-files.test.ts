import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../server/logger.js";
import { purgeExpiredFiles } from "../worker/jobs/housekeeping.js";
import { registerAgent, startTestServer, type TestServer } from "./helpers/server.js";

// files.create with `expires_after`, through the official SDK: the expiry is shown, enforced for
// every reader, and housekeeping drops the file's items and bytes.

let srv: TestServer;
let client: OpenAI;
beforeAll(async () => {
  srv = await startTestServer();
  client = new OpenAI({ apiKey: (await registerAgent(srv.base)).test_api_key, baseURL: `${srv.base}/v1/openai/v1`, maxRetries: 0 });
});
afterAll(async () => srv?.close());

const line = (id: string) =>
  `${JSON.stringify({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: id }] } })}\n`;
const create = async (id: string, expires_after?: { anchor: "created_at"; seconds: number }) =>
  client.files.create({
    file: await toFile(Buffer.from(line(id)), "b.jsonl"),
    purpose: "batch",
    ...(expires_after ? { expires_after } : {}),
  });

describe("file expiry (expires_after)", () => {
  it("shows expires_at, and from then on the file is gone for every reader; housekeeping drops its items and bytes", async () => {
    const kept = await create("keep");
    expect(kept.expires_at).toBeNull();
    const file = await create("exp", { anchor: "created_at", seconds: 3600 });
    expect(file.expires_at! - file.created_at).toBeGreaterThanOrEqual(3599);
    expect(file.expires_at! - file.created_at).toBeLessThanOrEqual(3601);
    expect((await client.files.retrieve(file.id)).expires_at).toBe(file.expires_at);

    // An hour later, as far as the database knows.
    const db = srv.database.db;
    await db("files")
      .where({ id: file.id })
      .update({ expires_at: db.raw("now() - interval '1 second'") });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.content(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const listed = [];
    for await (const f of client.files.list()) listed.push(f.id);
    expect(listed).toContain(kept.id);
    expect(listed).not.toContain(file.id);
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const storageKey = (await db("files").where({ id: file.id }).first()).storage_key;
    expect((await srv.platform.appDeps.artifacts.open(storageKey)).bytes).toBeGreaterThan(0);
    expect(await purgeExpiredFiles(db, srv.platform.appDeps.artifacts, createLogger("silent"))).toBe(1);
    expect(await db("file_item_chunks").where({ file_id: file.id }).count("* as n")).toEqual([{ n: 0 }]);
    await expect(srv.platform.appDeps.artifacts.open(storageKey)).rejects.toThrow();
    // The other file is untouched.
    expect((await client.files.retrieve(kept.id)).id).toBe(kept.id);
    expect(await purgeExpiredFiles(db, srv.platform.appDeps.artifacts, createLogger("silent"))).toBe(0);
  });

  it("refuses an expiry outside 1 hour to 30 days, or another anchor, and stores nothing", async () => {
    const before = await srv.database.db("files").count("* as n");
    for (const seconds of [3599, 2_592_001]) {
      const err = await create("bad", { anchor: "created_at", seconds }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toMatchObject({ param: "expires_after.seconds" });
    }
    const err = await create("bad", { anchor: "last_active_at" as "created_at", seconds: 3600 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await srv.database.db("files").count("* as n")).toEqual(before);
  });
});
