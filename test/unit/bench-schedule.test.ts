import { describe, expect, it } from "vitest";
import { criticalPath, serialTime, simulate, type Job } from "../../scripts/bench/schedule";

/*
 * A --3--> C --4--> E(2)      declaration order A B C D E F
 * A,B ---> D(1) ---> E        A=3 B=2 C=4 D=1 E=2 F=5 (F alone)
 *
 * Serial: 17. Critical path A-C-E: 9.
 * P=2 by hand: t0 A,B | t2 B done, D waits for A: F starts | t3 A done: C and D ready, one slot: C
 * (declared first) | t7 C and F done: D starts (E still waits for D) | t8 E starts | t10 done.
 */
const dag: Job[] = [
  { name: "A", duration: 3, deps: [] },
  { name: "B", duration: 2, deps: [] },
  { name: "C", duration: 4, deps: ["A"] },
  { name: "D", duration: 1, deps: ["A", "B"] },
  { name: "E", duration: 2, deps: ["C", "D"] },
  { name: "F", duration: 5, deps: [] },
];

describe("list-scheduling simulation of pulumi up", () => {
  it("runs one job at a time with P=1: the serial sum", () => {
    const run = simulate(dag, 1);
    expect(run.makespan).toBe(17);
    expect(run.peakRunning).toBe(1);
    expect(run.start.get("A")).toBe(0);
    expect(run.start.get("E")).toBe(15);
  });

  it("fills two slots in ready order, ties by declaration order, with P=2", () => {
    const run = simulate(dag, 2);
    expect(run.makespan).toBe(10);
    expect(Object.fromEntries(run.start)).toEqual({ A: 0, B: 0, F: 2, C: 3, D: 7, E: 8 });
    expect(run.peakRunning).toBe(2);
  });

  it("reaches the critical path with unbounded parallelism", () => {
    const run = simulate(dag, Infinity);
    expect(run.makespan).toBe(9);
    expect(Object.fromEntries(run.start)).toEqual({ A: 0, B: 0, F: 0, C: 3, D: 3, E: 7 });
    expect(run.peakRunning).toBe(3);
  });

  it("finds the critical path and its jobs", () => {
    expect(criticalPath(dag)).toEqual({ length: 9, path: ["A", "C", "E"] });
    expect(criticalPath([])).toEqual({ length: 0, path: [] });
  });

  it("sums the durations for the serial reference", () => {
    expect(serialTime(dag)).toBe(17);
  });

  it("lets zero-duration jobs (component-like) pass without delaying anything", () => {
    const jobs: Job[] = [
      { name: "a", duration: 0, deps: [] },
      { name: "b", duration: 5, deps: ["a"] },
      { name: "c", duration: 0, deps: ["b"] },
    ];
    expect(simulate(jobs, 1).makespan).toBe(5);
    expect(criticalPath(jobs).length).toBe(5);
  });

  it("rejects cycles, unknown dependencies, duplicate names and bad limits", () => {
    const cycle: Job[] = [
      { name: "x", duration: 1, deps: ["y"] },
      { name: "y", duration: 1, deps: ["x"] },
    ];
    expect(() => simulate(cycle, 2)).toThrow(/cycle/);
    expect(() => criticalPath(cycle)).toThrow(/cycle/);
    expect(() => simulate([{ name: "x", duration: 1, deps: ["nope"] }], 1)).toThrow(/unknown job nope/);
    expect(() => simulate([dag[0], dag[0]], 1)).toThrow(/listed twice/);
    expect(() => simulate(dag, 0)).toThrow(/parallelism/);
    expect(() => simulate([{ name: "x", duration: -1, deps: [] }], 1)).toThrow(/duration/);
  });
});
