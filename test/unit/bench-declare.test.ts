import { afterEach, describe, expect, it } from "vitest";
import { withoutPromiseStacks } from "../../components/remote/declare";

describe("withoutPromiseStacks (the fix for the SDK's per-promise stack traces)", () => {
  const saved = process.env.PULUMI_DEBUG_PROMISE_LEAKS;
  afterEach(() => {
    if (saved === undefined) delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
    else process.env.PULUMI_DEBUG_PROMISE_LEAKS = saved;
  });

  it("captures no stack frames while declaring, and restores the limit afterwards", () => {
    delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
    const before = Error.stackTraceLimit;
    const stack = withoutPromiseStacks(() => new Error("x").stack!);
    expect(stack.split("\n")).toEqual(["Error: x"]);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error("y").stack!.split("\n").length).toBeGreaterThan(1);
  });

  it("restores the limit when the declaration throws, keeping the message", () => {
    delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutPromiseStacks(() => {
        throw new Error("Missing required property 'connection'");
      }),
    ).toThrow("Missing required property 'connection'");
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("keeps the stacks when promise leaks are being debugged", () => {
    process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
    expect(withoutPromiseStacks(() => new Error("x").stack!).split("\n").length).toBeGreaterThan(1);
  });
});
