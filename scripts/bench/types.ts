/** One program evaluation under Pulumi mocks, measured in its own process. */
export interface EvaluationSample {
  workers: number;
  hosts: number;
  /** index.ts from reading its config until every resource is registered. */
  wallMs: number;
  /** CPU time (user + system, all threads) over the same span: less sensitive to a busy machine. */
  cpuMs: number;
  /** Process start until the measured code could run (module loading, TypeScript transpiling). */
  importMs: number;
  /** The process's peak resident set size (maxRSS), loading included. */
  peakRssBytes: number;
  /** Every registered resource, components included. */
  resources: number;
  customResources: number;
}

/** Bare resources under the same mocks: the SDK's cost, whatever the program. */
export interface FloorSample {
  resources: number;
  /** Declared through withoutPromiseStacks (components/remote/declare.ts). */
  quietStacks: boolean;
  wallMs: number;
  cpuMs: number;
  importMs: number;
  peakRssBytes: number;
}

/** One `npm run render` equivalent, measured in its own process. */
export interface RenderSample {
  workers: number;
  hosts: number;
  wallMs: number;
  importMs: number;
  peakRssBytes: number;
  steps: number;
  filesWritten: number;
  bytesWritten: number;
}

/** A custom resource as the engine schedules it: the custom resources (by id) it waits for. */
export interface GraphTask {
  /** The resource's URN (names repeat across types). */
  id: string;
  name: string;
  type: string;
  deps: string[];
}

export interface GraphShape {
  /** Custom resources (the ones the engine creates). */
  resources: number;
  /** Resources on the longest dependency chain. */
  depth: number;
  /** Most resources that share a level (level = longest chain ending at the resource). */
  widestLevel: number;
}

/** What an evaluation run writes for the graph and provisioning analyses. */
export interface GraphFile {
  workers: number;
  shape: GraphShape;
  /** Custom resources per layer / part of the program (see resourcesByPart). */
  parts: Record<string, number>;
  /** Each host's role for the duration table ("kubeadm-join@worker"). */
  roles: Record<string, "control-plane" | "worker" | "etcd" | "load-balancer" | undefined>;
  tasks: GraphTask[];
}
