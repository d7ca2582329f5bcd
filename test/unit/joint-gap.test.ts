import { describe, expect, it } from "vitest";
import { longestJointGapMs } from "../cluster/support";

describe("longestJointGapMs (the upgrade scenario's availability through some node)", () => {
  it("counts only the time in which no prober had an answer", () => {
    // a is down 1000-4000, b is down 3000-6000: some node answered all along but 4000-... gaps of 500.
    const a = { windowStart: 0, answered: [500, 1000, 4000, 4500, 5000, 5500, 6000] };
    const b = { windowStart: 0, answered: [500, 1000, 1500, 2000, 2500, 3000, 6000] };
    expect(longestJointGapMs([a, b], 6000)).toBe(1000);
  });

  it("counts a gap still open at the end, and one from the window's start", () => {
    expect(longestJointGapMs([{ windowStart: 0, answered: [2500, 3000] }], 3200)).toBe(2500);
    expect(longestJointGapMs([{ windowStart: 0, answered: [100, 200] }], 5200)).toBe(5000);
    expect(longestJointGapMs([{ windowStart: 0, answered: [] }, { windowStart: 100, answered: [] }], 700)).toBe(700);
  });
});
