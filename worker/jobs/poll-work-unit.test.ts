import { describe, expect, it } from "vitest";
import { approxJsonBytes } from "./poll-work-unit.js";

describe("approxJsonBytes (what bounds a results chunk)", () => {
  it("stays within a small factor of the JSON length for text and embedding outputs", () => {
    const embedding = { object: "list", data: [{ embedding: Array.from({ length: 1536 }, (_, i) => Math.sin(i) / 7) }] };
    const text = { content: [{ type: "text", text: "a reply of some length ".repeat(40) }], finish_reason: "stop" };
    for (const v of [embedding, text, null, "x", 3]) {
      const exact = JSON.stringify(v).length;
      const approx = approxJsonBytes(v);
      // Numbers count 8 against their ~20 printed digits: an estimate, never more than 4× off.
      expect(approx).toBeGreaterThanOrEqual(exact / 4);
      expect(approx).toBeLessThanOrEqual(exact * 4 + 8);
    }
    // 5,000 such embeddings pass the 8 MB bound long before the 5,000-item count.
    expect(approxJsonBytes(embedding) * 5000).toBeGreaterThan(8 * 1024 * 1024);
  });
});
