import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";

/**
 * The peer gateway of the compat benchmark: Portkey's open-source gateway (`@portkey-ai/gateway`, a
 * dev dependency) run as a child process on loopback, as its README starts it. Its OpenAI calls go
 * to the host named per request by the `x-portkey-custom-host` header.
 */
export interface Peer {
  /** "http://127.0.0.1:PORT/v1", the base URL an OpenAI client is given. */
  baseURL: string;
  /** The headers that make it forward to `upstream` as OpenAI. */
  headers: Record<string, string>;
  /** What it printed (for the report when it fails to start). */
  output(): string;
  close(): Promise<void>;
}

/** A free loopback port (the gateway takes a port number, not 0). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Starts the gateway forwarding to `upstream` ("http://127.0.0.1:FAKEPORT/v1"); resolves once it answers. */
export async function startPortkey(upstream: string): Promise<Peer> {
  // The package has no `exports`, so its package.json resolves and the bin sits beside it.
  const pkg = createRequire(import.meta.url).resolve("@portkey-ai/gateway/package.json");
  const script = path.join(path.dirname(pkg), "build", "start-server.js");
  const port = await freePort();
  // process.execPath: the same Node as the bench (24 under npm scripts), not whatever `node` is on PATH.
  const child: ChildProcess = spawn(process.execPath, [script, `--port=${port}`, "--headless"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out = (out + String(d)).slice(-8000);
  });
  child.stderr?.on("data", (d) => {
    out = (out + String(d)).slice(-8000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // The gateway doesn't notice its parent going away: a bench that throws or exits must not leave it running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Portkey gateway exited ${child.exitCode}: ${out.slice(-1000)}`);
    try {
      // Any HTTP answer means it listens; its root answers 200.
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`the Portkey gateway did not answer on port ${port} within 20 s: ${out.slice(-1000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    baseURL,
    headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": upstream },
    output: () => out,
    async close() {
      process.off("exit", killOnExit);
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
