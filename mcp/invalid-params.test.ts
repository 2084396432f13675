import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ListToolsRequestSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { answerInvalidParams, invalidParams } from "./invalid-params.js";
import type { Platform } from "./platform.js";
import { buildMcpServer } from "./server.js";

/** Raw JSON-RPC to a server over the SDK's in-memory transport: the stdio command's server, without a process. */
async function rawSession(server: { connect(t: InMemoryTransport): Promise<void> }) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const answers = new Map<number, (m: any) => void>();
  clientSide.onmessage = (m: any) => answers.get(m.id)?.(m);
  await server.connect(serverSide);
  await clientSide.start();
  let id = 0;
  return {
    request(method: string, params?: unknown): Promise<any> {
      const n = ++id;
      const answer = new Promise((resolve) => answers.set(n, resolve));
      void clientSide.send({ jsonrpc: "2.0", id: n, method, ...(params === undefined ? {} : { params }) } as JSONRPCMessage);
      return answer;
    },
    close: () => clientSide.close(),
  };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

// No tool runs in these tests, so the platform is never reached.
const server = () => buildMcpServer({} as Platform);

describe("answerInvalidParams", () => {
  it("answers malformed params of every method with −32602 and pointer paths relative to params", async () => {
    const s = await rawSession(server());
    close = s.close;
    const init = await s.request("initialize");
    expect(init.error).toEqual({
      code: -32602,
      message: "Invalid params: Invalid input: expected object, received undefined",
      data: { errors: [{ path: "/", message: "Invalid input: expected object, received undefined" }] },
    });
    const call = await s.request("tools/call", { name: 7 });
    expect(call.error).toMatchObject({ code: -32602, message: "Invalid params: /name: Invalid input: expected string, received number" });
    const list = await s.request("tools/list", { cursor: 5 });
    expect(list.error).toMatchObject({ code: -32602, data: { errors: [{ path: "/cursor" }] } });
  });

  it("leaves well-formed requests alone", async () => {
    const s = await rawSession(server());
    close = s.close;
    const init = await s.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "t", version: "1" },
    });
    expect(init.result.serverInfo.name).toBe("batchrouter");
    expect((await s.request("ping")).result).toEqual({});
    expect((await s.request("tools/list")).result.tools.length).toBeGreaterThan(0);
    expect((await s.request("no/such/method")).error.code).toBe(-32601);
  });

  it("keeps a ZodError from inside a handler an internal error: that one is ours", async () => {
    const bare = new Server({ name: "t", version: "1" }, { capabilities: { tools: {} } });
    bare.setRequestHandler(ListToolsRequestSchema, async () => z.object({ tools: z.array(z.string()) }).parse({ tools: [1] }));
    answerInvalidParams(bare);
    const s = await rawSession(bare);
    close = s.close;
    expect((await s.request("tools/list")).error.code).toBe(-32603);
  });

  it("escapes ~ and / in paths", () => {
    const err = invalidParams({ issues: [{ path: ["params", "arguments", "a/b~c"], message: "bad" }] });
    expect(err.message).toBe("Invalid params: /arguments/a~1b~0c: bad");
    expect(err.data).toEqual({ errors: [{ path: "/arguments/a~1b~0c", message: "bad" }] });
  });
});
