import { classify, stepKind, type DurationTable, type Role } from "./durations";
import { criticalPath, serialTime, simulate, type Job } from "./schedule";
import type { GraphTask } from "./types";

export const PARALLELISM = [16, 64] as const;

export interface ProvisioningResult {
  workers: number;
  resources: number;
  /** Longest chain of durations: no tool can provision faster. */
  criticalPathSeconds: number;
  /** The chain itself, as step kinds with their seconds and whether they were measured. */
  criticalPath: Array<{ name: string; type: string; key: string; seconds: number; measured: boolean }>;
  /** One resource at a time: the sum of all durations. */
  serialSeconds: number;
  /** Simulated `pulumi up` makespan by parallelism limit ("unbounded" = no limit). */
  makespanSeconds: Record<string, number>;
  /** Share of the summed durations that come from measured entries. */
  measuredShare: number;
  /** Resources the duration table has no entry for (counted as 0 s), by step kind or type. */
  unknown: Record<string, number>;
}

/** The role a host's steps are timed for: a node's Kubernetes role first. */
export function hostRole(roles: readonly string[]): Role | undefined {
  for (const role of ["control-plane", "worker", "etcd", "load-balancer"] as const) if (roles.includes(role)) return role;
  return undefined;
}

/** Jobs for the scheduler: each custom resource with its duration; unknown resources are collected. */
export function provisioningJobs(
  tasks: readonly GraphTask[],
  table: DurationTable,
  roles: Readonly<Record<string, Role | undefined>>,
): { jobs: Job[]; keys: Map<string, { key: string; measured: boolean }>; unknown: Record<string, number> } {
  const unknown: Record<string, number> = {};
  const keys = new Map<string, { key: string; measured: boolean }>();
  const jobs = tasks.map((task): Job => {
    const host = task.name.includes("/") ? task.name.slice(0, task.name.indexOf("/")) : undefined;
    const found = classify(table, task, host ? roles[host] : undefined);
    if (!found) {
      const what = task.type === "command:remote:Command" ? `step ${stepKind(task.name)}` : `type ${task.type}`;
      unknown[what] = (unknown[what] ?? 0) + 1;
      keys.set(task.id, { key: `unknown:${what}`, measured: false });
      return { name: task.id, duration: 0, deps: task.deps };
    }
    keys.set(task.id, { key: found.key, measured: found.measured });
    return { name: task.id, duration: found.seconds, deps: task.deps };
  });
  return { jobs, keys, unknown };
}

export function provisioning(
  workers: number,
  tasks: readonly GraphTask[],
  table: DurationTable,
  roles: Readonly<Record<string, Role | undefined>>,
): ProvisioningResult {
  const { jobs, keys, unknown } = provisioningJobs(tasks, table, roles);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const path = criticalPath(jobs);
  const duration = new Map(jobs.map((j) => [j.name, j.duration]));
  const serial = serialTime(jobs);
  const measured = jobs.filter((j) => keys.get(j.name)!.measured).reduce((sum, j) => sum + j.duration, 0);
  const makespanSeconds: Record<string, number> = {};
  for (const p of PARALLELISM) makespanSeconds[String(p)] = simulate(jobs, p).makespan;
  makespanSeconds.unbounded = simulate(jobs, Infinity).makespan;
  return {
    workers,
    resources: tasks.length,
    criticalPathSeconds: path.length,
    criticalPath: path.path.map((id) => ({
      name: byId.get(id)!.name,
      type: byId.get(id)!.type,
      key: keys.get(id)!.key,
      seconds: duration.get(id)!,
      measured: keys.get(id)!.measured,
    })),
    serialSeconds: serial,
    makespanSeconds,
    measuredShare: serial > 0 ? measured / serial : 0,
    unknown,
  };
}
