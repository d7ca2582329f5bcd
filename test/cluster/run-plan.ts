import type { ClusterPlan, StepSpec } from "../../components/remote/step";
import { applyStep, type ScriptRunner } from "../hosts/steps";

/**
 * Runs the create script of every step in `only` (default: all) like the engine does: each starts
 * once the steps it needs have succeeded (so independent hosts go in parallel; a step outside
 * `only` counts as done), secrets travel on stdin, and a step whose stdout is a secret
 * (plan.outputSecrets) feeds the steps that read it. The first failure is thrown with that step's
 * own output once the steps already running have settled. Returns each run step's milliseconds.
 */
export async function createAll(runner: ScriptRunner, plan: ClusterPlan, secrets: Record<string, string>, only?: ReadonlySet<string>): Promise<Record<string, number>> {
  const produces = new Map(Object.entries(plan.outputSecrets).map(([name, step]) => [step, name]));
  const done = new Map<string, Promise<void>>();
  const ms: Record<string, number> = {};
  let failure: unknown;
  const start = (step: StepSpec): Promise<void> => {
    if (only && !only.has(step.id)) return Promise.resolve();
    const needs = step.needs.map((id) => done.get(id)!);
    return Promise.all(needs).then(async () => {
      if (failure) throw failure;
      const r = await applyStep(runner, step, { secrets }).catch((e: unknown) => {
        failure ??= e;
        throw e;
      });
      ms[step.id] = r.ms;
      const name = produces.get(step.id);
      if (name) secrets[name] = r.stdout.trim();
    });
  };
  for (const step of plan.steps) done.set(step.id, start(step));
  const settled = await Promise.allSettled(done.values());
  if (failure) throw failure;
  const rejected = settled.find((s) => s.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
  return ms;
}

/** Every delete script of `steps` in reverse order, one after another, as `pulumi destroy` would undo them. */
export async function deleteAll(runner: ScriptRunner, steps: readonly StepSpec[], secrets: Record<string, string>): Promise<Record<string, number>> {
  const ms: Record<string, number> = {};
  for (const step of [...steps].reverse()) {
    if (step.deleteScript) ms[step.id] = (await applyStep(runner, step, { secrets, which: "delete" })).ms;
  }
  return ms;
}

/** What `pulumi up` does when the stack's configuration moves from `before` to `after`. */
export interface PlanChange {
  /** Steps that are new, or whose scripts changed (an in-place update runs the create script again). */
  apply: Set<string>;
  /** Steps no longer declared: their delete scripts run, after every create and update. */
  remove: StepSpec[];
}

export function planChange(before: ClusterPlan, after: ClusterPlan): PlanChange {
  const old = new Map(before.steps.map((s) => [s.id, s]));
  const declared = new Set(after.steps.map((s) => s.id));
  const apply = new Set(
    after.steps.filter((s) => {
      const was = old.get(s.id);
      return !was || was.script !== s.script || was.deleteScript !== s.deleteScript;
    }).map((s) => s.id),
  );
  return { apply, remove: before.steps.filter((s) => !declared.has(s.id)) };
}

/** Applies a configuration change the way the engine would: creates and updates in plan order, then the deletes. */
export async function applyChange(runner: ScriptRunner, before: ClusterPlan, after: ClusterPlan, secrets: Record<string, string>): Promise<{ change: PlanChange; ms: Record<string, number> }> {
  const change = planChange(before, after);
  const ms = await createAll(runner, after, secrets, change.apply);
  Object.assign(ms, await deleteAll(runner, change.remove, secrets));
  return { change, ms };
}
