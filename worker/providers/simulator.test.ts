import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { describe, expect, it } from "vitest";
import { createSimulator } from "./simulator.js";
import { embedText } from "./simulator-output.js";
import { chatItem, collectAll, embeddingLane, manualClock, manyChatItems, request, testLane, workItem } from "./test-fixtures.js";
import { markCancelled, ProviderError, type EmbeddingsOutput, type ItemResult, type TextOutput } from "./types.js";

const byId = (rs: ItemResult[]) => new Map(rs.map((r) => [r.item_id, r]));
const text = (r: ItemResult | undefined) => r?.output as TextOutput;

describe("simulator job lifecycle", () => {
  it("with turnaround 0 completes at once and returns every item exactly once", async () => {
    const sim = createSimulator({ turnaroundMs: 0 });
    const req = request(manyChatItems(50));
    const ref = await sim.submit(req);
    expect(sim.execution).toBe("simulated");
    expect(ref.provider_job_id).toMatch(/^simbatch_[0-9a-f]{24}$/);
    expect(await sim.poll(ref)).toEqual({ status: "completed", counts: { total: 50, completed: 50, failed: 0 } });
    const results = await collectAll(sim, ref, req);
    expect(results).toHaveLength(50);
    expect(new Set(results.map((r) => r.item_id))).toEqual(new Set(req.items.map((i) => i.item_id)));
    expect(results.every((r) => r.status === "completed")).toBe(true);
  });

  it("progresses with injected time: in_progress, then completed, and refuses to collect early", async () => {
    const clock = manualClock();
    const sim = createSimulator({ turnaroundMs: 10_000, now: clock.now });
    const req = request(manyChatItems(10));
    const ref = await sim.submit(req);
    expect(await sim.poll(ref)).toEqual({ status: "in_progress", counts: { total: 10, completed: 0, failed: 0 } });
    await expect(collectAll(sim, ref, req)).rejects.toMatchObject({ code: "results_not_ready", retryable: true });
    clock.advance(5_000);
    expect(await sim.poll(ref)).toEqual({ status: "in_progress", counts: { total: 10, completed: 5, failed: 0 } });
    clock.advance(4_999);
    expect((await sim.poll(ref)).status).toBe("in_progress");
    clock.advance(1);
    expect(await sim.poll(ref)).toEqual({ status: "completed", counts: { total: 10, completed: 10, failed: 0 } });
    const results = await collectAll(sim, ref, req);
    // Latencies spread over the turnaround, the last item finishing at its end.
    expect(Math.max(...results.map((r) => r.latency_ms ?? 0))).toBe(10_000);
    expect(Math.min(...results.map((r) => r.latency_ms ?? 0))).toBe(1_000);
  });

  it("uses a per-lane turnaround (glob) over the global one", async () => {
    const clock = manualClock();
    const sim = createSimulator({ turnaroundMs: 60_000, laneTurnaroundMs: { "openai/*/us/batch": 0 }, now: clock.now });
    const fast = await sim.submit(request(manyChatItems(2)));
    const slow = await sim.submit(request(manyChatItems(2), testLane({ lane_id: "groq/gpt-4o-mini/us/batch", provider: "groq" })));
    expect((await sim.poll(fast)).status).toBe("completed");
    expect((await sim.poll(slow)).status).toBe("in_progress");
  });

  it("is deterministic: the same ref gives identical results, also from a fresh instance after a 'restart'", async () => {
    const clock = manualClock();
    const config = { turnaroundMs: 1_000, faults: { "*": { rate_limit: 0.2, permanent: 0.1 } } };
    const req = request(manyChatItems(40));
    const ref = await createSimulator({ ...config, now: clock.now }).submit(req);
    const persisted = JSON.parse(JSON.stringify(ref)); // what the worker stored in the database
    clock.advance(5_000);
    const first = await collectAll(createSimulator({ ...config, now: clock.now }), persisted, req);
    clock.advance(3_600_000);
    const restarted = createSimulator({ ...config, now: clock.now });
    const again = await collectAll(restarted, persisted, { ...req, items: [...req.items].reverse() });
    expect(again).toEqual(first);
    expect(first.some((r) => r.status === "failed")).toBe(true);
  });

  it("returns results in an order of its own, not the submit order", async () => {
    const sim = createSimulator({ turnaroundMs: 0 });
    const req = request(manyChatItems(30));
    const results = await collectAll(sim, await sim.submit(req), req);
    expect(results.map((r) => r.item_id)).not.toEqual(req.items.map((i) => i.item_id));
  });

  it("collects a real-time unit again with only its unsettled items (after a crash mid-collect), never with more", async () => {
    // Found by test/chaos/worker-kills.test.ts: the re-collect was refused as ref_mismatch and the
    // unit's items were needlessly sent down the fallback ladder.
    const sim = createSimulator({ turnaroundMs: 0 });
    const lane = testLane({ protocol: "realtime", lane_id: "openai/gpt-4o-mini/us/realtime" });
    const items = manyChatItems(10);
    const full = await collectAll(sim, await sim.submit(request(items, lane)), request(items, lane));
    const ref = await sim.submit(request(items, lane));
    const rest = await collectAll(sim, ref, request(items.slice(6), lane));
    expect(rest.map((r) => r.item_id).sort()).toEqual(
      items
        .slice(6)
        .map((i) => i.item_id)
        .sort(),
    );
    expect(rest.map((r) => text(r).text)).toEqual(rest.map((r) => text(byId(full).get(r.item_id)).text));
    await expect(collectAll(sim, ref, request([...items, ...manyChatItems(11).slice(10)], lane))).rejects.toMatchObject({
      code: "ref_mismatch",
    });
    // A batch lane's job is collected whole, as its provider would answer it.
    const batchRef = await sim.submit(request(items));
    await expect(collectAll(sim, batchRef, request(items.slice(6)))).rejects.toMatchObject({ code: "ref_mismatch" });
  });

  it("refuses a ref of another job or a malformed ref, and empty or duplicate work units", async () => {
    const sim = createSimulator({ turnaroundMs: 0 });
    const req = request(manyChatItems(3));
    const ref = await sim.submit(req);
    const wrong = collectAll(sim, ref, request(manyChatItems(3), testLane(), "wu_other"));
    await expect(wrong).rejects.toBeInstanceOf(ProviderError);
    await expect(wrong).rejects.toMatchObject({ code: "ref_mismatch", retryable: false });
    await expect(sim.poll({ provider_job_id: "batch_abc" })).rejects.toMatchObject({ code: "ref_mismatch", retryable: false });
    await expect(sim.submit(request([]))).rejects.toMatchObject({ code: "invalid_request", status: 400, retryable: false });
    const dup = chatItem("a", "hi");
    await expect(sim.submit(request([dup, { ...dup }]))).rejects.toMatchObject({ code: "invalid_request" });
  });
});

describe("cancellation (recorded in the ref by the caller)", () => {
  it("returns what finished before the cancel and the rest as cancelled, each item once", async () => {
    const clock = manualClock();
    const sim = createSimulator({ turnaroundMs: 10_000, now: clock.now });
    const req = request(manyChatItems(10));
    let ref = await sim.submit(req);
    clock.advance(3_000);
    await sim.cancel(ref);
    ref = markCancelled(ref, clock.now());
    clock.advance(60_000);
    expect(await sim.poll(ref)).toEqual({ status: "cancelled", counts: { total: 10, completed: 3, failed: 0 } });
    const results = await collectAll(sim, ref, req);
    expect(results).toHaveLength(10);
    expect(new Set(results.map((r) => r.item_id)).size).toBe(10);
    expect(results.filter((r) => r.status === "completed")).toHaveLength(3);
    const cancelled = results.filter((r) => r.error?.code === "cancelled");
    expect(cancelled).toHaveLength(7);
    expect(cancelled.every((r) => !r.retryable && r.usage.input_tokens === 0)).toBe(true);
  });

  it("reports completed when the cancel came after the job finished", async () => {
    const clock = manualClock();
    const sim = createSimulator({ turnaroundMs: 1_000, now: clock.now });
    const ref = await sim.submit(request(manyChatItems(4)));
    clock.advance(2_000);
    expect((await sim.poll(markCancelled(ref, clock.now()))).status).toBe("completed");
  });
});

describe("simulated outputs and usage", () => {
  const sim = createSimulator({ turnaroundMs: 0 });
  const run = async (items: ReturnType<typeof chatItem>[], lane = testLane()) => {
    const req = request(items, lane);
    return byId(await collectAll(sim, await sim.submit(req), req));
  };

  it("answers a chat item with a labelled echo, and bills real o200k token counts", async () => {
    const item = workItem("c1", {
      operation: "responses",
      input: {
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "Summarize: the invoice total is wrong for March." },
        ],
      },
    });
    const r = (await run([item])).get("itm_c1");
    const out = text(r);
    expect(out.text).toMatch(/^\[simulated gpt-4o-mini\] Summary of the request: "Summarize: the invoice total is wrong for March\."/);
    expect(out).toMatchObject({
      finish_reason: "stop",
      model: "gpt-4o-mini",
      tool_calls: [],
      content: [{ type: "output_text", text: out.text }],
    });
    expect(out.provider_response_id).toMatch(/^simresp_/);
    expect(r?.usage).toEqual({
      input_tokens: countTokens("You are terse.") + countTokens("Summarize: the invoice total is wrong for March."),
      output_tokens: countTokens(out.text),
    });
  });

  it("reads Responses-style input (instructions + input) and truncates at max_output_tokens", async () => {
    const item = workItem("r1", {
      operation: "responses",
      max_output_tokens: 5,
      input: { instructions: "Be brief.", input: "Explain batching to a five year old, please, in detail." },
    });
    const r = (await run([item])).get("itm_r1");
    expect(text(r).finish_reason).toBe("length");
    expect(r?.usage.output_tokens).toBe(countTokens(text(r).text));
    expect(r?.usage.output_tokens).toBeLessThanOrEqual(5);
    expect(r?.usage.input_tokens).toBe(countTokens("Be brief.") + countTokens("Explain batching to a five year old, please, in detail."));
  });

  it("mentions the images of a vision item and doesn't bill them as text", async () => {
    const item = workItem("v1", {
      operation: "vision",
      input: {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is on this receipt?" },
              { type: "image_url", image_url: { url: "https://example.com/r.png" } },
            ],
          },
        ],
      },
    });
    const r = (await run([item])).get("itm_v1");
    expect(text(r).text).toContain("Looked at 1 image.");
    expect(r?.usage.input_tokens).toBe(countTokens("What is on this receipt?"));
  });

  it("calls a function tool when the prompt asks for it, with well-formed JSON arguments", async () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string" }, days: { type: "integer", minimum: 1, maximum: 7 } },
            required: ["city"],
          },
        },
      },
    ];
    const rs = await run([chatItem("t1", "Please call get_weather for Paris.", { tools }), chatItem("t2", "Tell me a joke.", { tools })]);
    const called = text(rs.get("itm_t1"));
    expect(called.finish_reason).toBe("tool_calls");
    expect(called.tool_calls).toHaveLength(1);
    expect(called.tool_calls[0]).toMatchObject({
      id: expect.stringMatching(/^call_/),
      type: "function",
      function: { name: "get_weather" },
    });
    const args = JSON.parse(called.tool_calls[0]!.function.arguments);
    expect(typeof args.city).toBe("string");
    expect(args.days).toBeGreaterThanOrEqual(1);
    expect(args.days).toBeLessThanOrEqual(7);
    expect(rs.get("itm_t1")?.usage.output_tokens).toBe(countTokens("get_weather") + countTokens(called.tool_calls[0]!.function.arguments));
    expect(text(rs.get("itm_t2")).tool_calls).toEqual([]);
  });

  it("answers JSON when asked for json_object, filling the prompt's template", async () => {
    const item = workItem("j1", {
      operation: "responses",
      max_output_tokens: 64,
      input: {
        instructions:
          'Classify the support ticket into exactly one label: billing, bug, feature_request, account_access, how_to, other. Answer with JSON {"label": <label>, "confidence": <0..1>}.',
        input: "Subject: refund\n\nI was charged twice.",
        response_format: { type: "json_object" },
      },
    });
    const parsed = JSON.parse(text((await run([item])).get("itm_j1")).text);
    expect(["billing", "bug", "feature_request", "account_access", "how_to", "other"]).toContain(parsed.label);
    expect(parsed.confidence).toBeGreaterThanOrEqual(0);
    expect(parsed.confidence).toBeLessThanOrEqual(1);
  });

  it("fails items over the context window or of an operation the lane doesn't serve, permanently", async () => {
    const rs = await run(
      [chatItem("big", "word ".repeat(50)), workItem("e1", { operation: "embeddings", input: { input: "x" } })],
      testLane({ context_window: 20 }),
    );
    expect(rs.get("itm_big")).toMatchObject({
      status: "failed",
      retryable: false,
      output: null,
      error: { code: "context_length_exceeded", provider_status: 400 },
    });
    expect(rs.get("itm_e1")).toMatchObject({ status: "failed", retryable: false, error: { code: "invalid_input" } });
  });
});

describe("simulated embeddings", () => {
  const sim = createSimulator({ turnaroundMs: 0 });
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

  it("gives one unit vector per input, 1536 wide for -small, 3072 for -large, or the asked dimensions", async () => {
    const small = workItem("s", {
      operation: "embeddings",
      input: { input: ["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew"] },
    });
    const sized = workItem("d", { operation: "embeddings", input: { input: "the cat sat on the mat", dimensions: 256 } });
    const req = request([small, sized], embeddingLane());
    const rs = byId(await collectAll(sim, await sim.submit(req), req));
    const s = rs.get("itm_s")?.output as EmbeddingsOutput;
    expect(s.dimensions).toBe(1536);
    expect(s.embeddings).toHaveLength(3);
    for (const v of s.embeddings) {
      expect(v).toHaveLength(1536);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    // Shared words point the same way: similar texts are closer than unrelated ones.
    expect(dot(s.embeddings[0]!, s.embeddings[1]!)).toBeGreaterThan(dot(s.embeddings[0]!, s.embeddings[2]!) + 0.2);
    expect(rs.get("itm_s")?.usage).toEqual({
      input_tokens: countTokens("the cat sat on the mat") + countTokens("a cat sat on a mat") + countTokens("quarterly revenue grew"),
      output_tokens: 0,
    });
    const d = rs.get("itm_d")?.output as EmbeddingsOutput;
    expect(d.dimensions).toBe(256);
    expect(norm(d.embeddings[0]!)).toBeCloseTo(1, 5);

    const large = workItem("l", { operation: "embeddings", input: { input: "hello" } }, { model: "text-embedding-3-large" });
    const reqL = request([large], embeddingLane("text-embedding-3-large"));
    const l = (await collectAll(sim, await sim.submit(reqL), reqL))[0]?.output as EmbeddingsOutput;
    expect(l.dimensions).toBe(3072);
    expect(l.embeddings[0]).toHaveLength(3072);
  });

  it("embeds a text the same whether its words' vectors were kept or drawn again, on a 1e-8 grid", () => {
    const text = "refund the duplicate charge on order 7919";
    const first = embedText("text-embedding-3-small", text, 1536);
    // Words enough to push every kept vector out of the simulator's budget.
    for (let i = 0; i < 4; i++) embedText("text-embedding-3-small", Array.from({ length: 512 }, (_, j) => `w${i}x${j}`).join(" "), 1536);
    expect(embedText("text-embedding-3-small", text, 1536)).toEqual(first);
    for (const x of first) expect(Math.abs(Math.round(x * 1e8) - x * 1e8)).toBeLessThan(1e-6);
    // A shorter vector is the renormalised prefix of the native one.
    const short = embedText("text-embedding-3-small", text, 256);
    const n = Math.sqrt(first.slice(0, 256).reduce((s, x) => s + x * x, 0));
    short.forEach((x, i) => expect(x).toBeCloseTo((first[i] as number) / n, 6));
  });

  it("rejects dimensions above the model's native width as invalid_input", async () => {
    const req = request([workItem("w", { operation: "embeddings", input: { input: "hi", dimensions: 4096 } })], embeddingLane());
    const [r] = await collectAll(sim, await sim.submit(req), req);
    expect(r).toMatchObject({ status: "failed", retryable: false, error: { code: "invalid_input", provider_status: 400 } });
  });
});
