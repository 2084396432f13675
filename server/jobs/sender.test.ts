import type { PgBoss } from "pg-boss";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Db } from "../../db/connection.js";
import { createJobSender } from "./sender.js";

// pg-boss itself is not under test here: a stand-in that accepts every job.
const boss = { send: vi.fn(async () => "job-id") } as unknown as PgBoss;
// Not a transaction: the job counts as visible once send returns.
const db = { isTransaction: false } as unknown as Db;

describe("the in-process wake after a send", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("wakes the queue's workers at once for a job due now, and when a delayed job falls due", async () => {
    vi.useFakeTimers();
    const woken: [string, number][] = [];
    const t0 = Date.now();
    const jobs = createJobSender(boss, (queue) => woken.push([queue, Date.now() - t0]));

    await jobs.send(db, "dispatch", { batch_id: "bat_1" });
    expect(woken).toEqual([["batch.dispatch", 0]]);

    // A young work unit's next look at its provider, 100 ms ahead: an idle worker polls only every 0.5 s.
    await jobs.send(db, "poll", { work_unit_id: "wu_1" }, { startAfter: new Date(t0 + 100) });
    await vi.advanceTimersByTimeAsync(99);
    expect(woken).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(woken).toHaveLength(2);
    expect(woken[1]![0]).toBe("wu.poll");
    expect(woken[1]![1]).toBeGreaterThanOrEqual(100);

    // Far ahead, the worker's own polling is close enough: no timer is left pending for it.
    await jobs.send(db, "poll", { work_unit_id: "wu_2" }, { startAfter: new Date(Date.now() + 60_000) });
    expect(vi.getTimerCount()).toBe(0);
  });
});
