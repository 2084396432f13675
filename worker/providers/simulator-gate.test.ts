import { describe, expect, it } from "vitest";
import { createSimulator } from "./simulator.js";
import { SimulatorGate } from "./simulator-gate.js";
import { collectAll, manualClock, manyChatItems, request, testLane } from "./test-fixtures.js";
import { markCancelled } from "./types.js";

const nothingDone = (total: number) => ({ status: "in_progress", counts: { total, completed: 0, failed: 0 } });

describe("a simulator gate", () => {
  it("holds jobs of its lanes in progress until released, whatever the turnaround", async () => {
    const clock = manualClock();
    const gate = new SimulatorGate({ lanes: ["openai/*"] });
    const sim = createSimulator({ turnaroundMs: 0, hold: gate, now: clock.now });
    const req = request(manyChatItems(6));
    const held = await sim.submit(req);
    const other = request(manyChatItems(2), testLane({ lane_id: "anthropic/claude-haiku-4/us/batch", provider: "anthropic" }));
    const free = await sim.submit(other);

    clock.advance(3_600_000);
    expect(await sim.poll(held)).toEqual(nothingDone(6));
    await expect(collectAll(sim, held, req)).rejects.toMatchObject({ code: "results_not_ready", retryable: true });
    // Lanes the gate doesn't name run as usual.
    expect((await sim.poll(free)).status).toBe("completed");

    gate.release(clock.now());
    expect(await sim.poll(held)).toEqual({ status: "completed", counts: { total: 6, completed: 6, failed: 0 } });
    expect((await collectAll(sim, held, req)).every((r) => r.status === "completed")).toBe(true);
  });

  it("starts a held job's turnaround at the release, not at the submit", async () => {
    const clock = manualClock();
    const gate = new SimulatorGate();
    const sim = createSimulator({ turnaroundMs: 10_000, hold: gate, now: clock.now });
    const req = request(manyChatItems(10));
    const ref = await sim.submit(req);
    clock.advance(60_000);
    gate.release(clock.now());
    expect(await sim.poll(ref)).toEqual(nothingDone(10));
    clock.advance(5_000);
    expect(await sim.poll(ref)).toEqual({ status: "in_progress", counts: { total: 10, completed: 5, failed: 0 } });
    clock.advance(5_000);
    expect((await sim.poll(ref)).status).toBe("completed");
    // A second release (a test's cleanup) moves nothing.
    gate.release(clock.now() + 1_000_000);
    expect((await sim.poll(ref)).status).toBe("completed");
  });

  it("runs jobs submitted after the release at once", async () => {
    const clock = manualClock();
    const gate = new SimulatorGate();
    gate.release(clock.now());
    const sim = createSimulator({ turnaroundMs: 0, hold: gate, now: clock.now });
    expect((await sim.poll(await sim.submit(request(manyChatItems(3))))).status).toBe("completed");
  });

  it("a job cancelled while held stays in progress until the release, then comes back all cancelled", async () => {
    const clock = manualClock();
    const gate = new SimulatorGate();
    const sim = createSimulator({ turnaroundMs: 0, hold: gate, now: clock.now });
    const req = request(manyChatItems(8));
    const submitted = await sim.submit(req);
    clock.advance(1_000);
    await sim.cancel(submitted);
    const ref = markCancelled(submitted, clock.now());
    clock.advance(1_000);
    expect(await sim.poll(ref)).toEqual(nothingDone(8));

    gate.release(clock.now());
    clock.advance(1_000);
    expect(await sim.poll(ref)).toEqual({ status: "cancelled", counts: { total: 8, completed: 0, failed: 0 } });
    const results = await collectAll(sim, ref, req);
    expect(results.map((r) => r.item_id).sort()).toEqual(req.items.map((i) => i.item_id).sort());
    expect(results.every((r) => r.status === "failed" && r.error?.code === "cancelled" && !r.retryable && r.usage.input_tokens === 0)).toBe(
      true,
    );
  });

  it("a job cancelled after the release keeps what finished before the cancel", async () => {
    const clock = manualClock();
    const gate = new SimulatorGate();
    const sim = createSimulator({ turnaroundMs: 10_000, hold: gate, now: clock.now });
    const req = request(manyChatItems(10));
    const submitted = await sim.submit(req);
    clock.advance(30_000);
    gate.release(clock.now());
    clock.advance(3_000);
    const ref = markCancelled(submitted, clock.now());
    clock.advance(60_000);
    expect(await sim.poll(ref)).toEqual({ status: "cancelled", counts: { total: 10, completed: 3, failed: 0 } });
    expect((await collectAll(sim, ref, req)).filter((r) => r.status === "completed")).toHaveLength(3);
  });
});
