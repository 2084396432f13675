import { describe, expect, it } from "vitest";
import { EventLoopSlices } from "./event-loop-slices.js";

/** Busy-waits `ms`: a stand-in for synchronous work between awaits that resolve at once. */
function busy(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

/** Runs a 200 ms loop of 2 ms steps and says how late a timer due 5 ms in could fire. */
async function timerLateness(slices?: EventLoopSlices): Promise<number> {
  const due = performance.now() + 5;
  let firedAt = Number.POSITIVE_INFINITY;
  setTimeout(() => (firedAt = performance.now()), 5);
  for (let i = 0; i < 100; i++) {
    await Promise.resolve(); // an await that gives the event loop nothing
    busy(2);
    await slices?.pause();
  }
  await new Promise((r) => setTimeout(r, 10));
  return firedAt - due;
}

describe("EventLoopSlices", () => {
  it("lets a timer due mid-loop fire within a slice or so, where the loop alone holds it to the end", async () => {
    expect(await timerLateness()).toBeGreaterThan(150);
    expect(await timerLateness(new EventLoopSlices(10))).toBeLessThan(60);
  });

  it("does not pause before a slice has passed", async () => {
    const slices = new EventLoopSlices(1_000);
    expect(slices.pause()).toBeUndefined();
  });
});
