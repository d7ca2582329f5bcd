import type { ClusterPlan, StepSpec } from "../../components/remote/step";
import { applyStep, type ScriptRunner } from "../hosts/steps";

/**
 * Runs every step's create like the engine does: each starts once the steps it needs have
 * succeeded (so independent hosts go in parallel), secrets travel on stdin, and a step whose
 * stdout is a secret (plan.outputSecrets) feeds the steps that read it. The first failure is
 * thrown with that step's own output once the steps already running have settled.
 */
export async function createAll(runner: ScriptRunner, plan: ClusterPlan, secrets: Record<string, string>): Promise<Record<string, number>> {
  const produces = new Map(Object.entries(plan.outputSecrets).map(([name, step]) => [step, name]));
  const done = new Map<string, Promise<void>>();
  const ms: Record<string, number> = {};
  let failure: unknown;
  const start = (step: StepSpec): Promise<void> => {
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

/** Every delete script in reverse plan order, one after another, as `pulumi destroy` would undo them. */
export async function deleteAll(runner: ScriptRunner, plan: ClusterPlan, secrets: Record<string, string>): Promise<void> {
  for (const step of [...plan.steps].reverse()) {
    if (step.deleteScript) await applyStep(runner, step, { secrets, which: "delete" });
  }
}
