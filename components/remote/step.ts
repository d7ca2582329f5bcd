import type { RenderedFile } from "./shell";

/** The layers of the cluster graph, in the order they are declared. */
export const LAYERS = ["hosts", "runtime", "packages", "load-balancer", "etcd", "control-plane", "workers"] as const;
export type LayerName = (typeof LAYERS)[number];

/**
 * One idempotent remote step, as pure data: what runs on which host, what it undoes,
 * and which steps must finish first. The Pulumi wiring turns each into a
 * remote.Command; the render tool writes it to disk.
 */
export interface StepSpec {
  /** Unique id, "<host>/<step>": also the Pulumi resource name. */
  id: string;
  /** Host the step runs on. */
  host: string;
  layer: LayerName;
  description: string;
  /** Create/update script: running it twice leaves the host as running it once. */
  script: string;
  /** Undo script, run on delete (node removal, destroy). */
  deleteScript?: string;
  /** Files the script places (also written by `npm run render`); each is an entry of the step's drift-checked ManagedFiles. */
  files: RenderedFile[];
  /** systemd units the script leaves enabled and running: `pulumi refresh` reports them stopped (components/drift). */
  units?: string[];
  /** Ids of the steps that must succeed first. */
  needs: string[];
  /** Secret names the scripts read from stdin, in order (see kop_secret). */
  secrets: string[];
  /** stdout is wanted as an output (secret when `secret`), e.g. a kubeconfig. */
  output?: "plain" | "secret";
  /** Pulumi custom timeouts, e.g. { create: "20m" }. */
  timeouts?: { create?: string; update?: string; delete?: string };
}

export interface ClusterPlan {
  steps: StepSpec[];
  /** Secrets produced by a step's stdout, by secret name -> producing step id (e.g. PKI made on one host for others). */
  outputSecrets: Record<string, string>;
}

export function stepId(host: string, name: string): string {
  return `${host}/${name}`;
}

/** Checks a plan is a DAG in declaration order with no dangling or duplicate ids. */
export function checkPlan(plan: ClusterPlan): void {
  const seen = new Set<string>();
  for (const step of plan.steps) {
    if (seen.has(step.id)) throw new Error(`plan: duplicate step id ${step.id}`);
    for (const need of step.needs) {
      if (!seen.has(need)) throw new Error(`plan: step ${step.id} needs ${need}, which is not declared before it`);
    }
    seen.add(step.id);
  }
  for (const [name, producer] of Object.entries(plan.outputSecrets)) {
    if (!seen.has(producer)) throw new Error(`plan: secret ${name} comes from unknown step ${producer}`);
    const producerIndex = plan.steps.findIndex((s) => s.id === producer);
    for (const step of plan.steps) {
      if (step.secrets.includes(name) && !step.needs.includes(producer)) {
        throw new Error(`plan: step ${step.id} reads secret ${name} but does not need its producer ${producer}`);
      }
    }
    if (plan.steps[producerIndex].output !== "secret") throw new Error(`plan: step ${producer} produces secret ${name} but its output is not secret`);
  }
}
