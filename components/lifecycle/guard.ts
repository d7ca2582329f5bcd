import * as pulumi from "@pulumi/pulumi";
import type { ClusterModel } from "../config";

/**
 * What the lifecycle guard remembers between updates. Its dynamic provider's check() sees the
 * previous and the new values, and runs during `pulumi preview` too: an unsafe change is refused
 * before anything happens. Workers are not listed, so adding or removing one leaves it alone.
 */
export interface MembershipState {
  version: string;
  /** The host kubeadm init ran on; every lifecycle step on the cluster side runs there. */
  firstControlPlane: string;
  controlPlanes: string[];
  etcdTopology: "stacked" | "external";
  /** External etcd members (empty with stacked etcd: the control planes are the members). */
  etcdMembers: string[];
}

export interface GuardFailure {
  property: string;
  reason: string;
}

export function membershipState(model: ClusterModel): MembershipState {
  return {
    version: model.kubernetes.version,
    firstControlPlane: model.controlPlanes[0].name,
    controlPlanes: model.controlPlanes.map((h) => h.name),
    etcdTopology: model.etcd.topology,
    etcdMembers: model.etcdMembers.map((h) => h.name),
  };
}

/**
 * The rules, as one self-contained function: it is serialized into the stack with the dynamic
 * provider, so it must not reference anything outside its own body.
 */
export function lifecycleChangeFailures(olds: Partial<MembershipState> | undefined, news: MembershipState): GuardFailure[] {
  const failures: GuardFailure[] = [];
  if (!news.controlPlanes || news.controlPlanes.length === 0) {
    failures.push({ property: "controlPlanes", reason: "cluster:hosts: the last control plane cannot be removed; use pulumi destroy to remove the cluster" });
  }
  if (!olds || !olds.version || !olds.controlPlanes) return failures;

  const parse = (v: string) => v.split(".").map(Number);
  const [, oldMinor, oldPatch] = parse(olds.version);
  const [, newMinor, newPatch] = parse(news.version);
  const versionChanged = olds.version !== news.version;
  if (newMinor > oldMinor + 1) {
    failures.push({
      property: "version",
      reason: `cluster:kubernetes.version: ${olds.version} -> ${news.version} skips 1.${oldMinor + 1}; kubeadm upgrades one minor version at a time: set 1.${oldMinor + 1}.x, run pulumi up, then ${news.version}`,
    });
  } else if (newMinor < oldMinor || (newMinor === oldMinor && newPatch < oldPatch)) {
    failures.push({
      property: "version",
      reason: `cluster:kubernetes.version: ${olds.version} -> ${news.version} is a downgrade, which kubeadm does not support; keep ${olds.version} or go forward`,
    });
  }

  if (olds.firstControlPlane && news.firstControlPlane !== olds.firstControlPlane) {
    failures.push({
      property: "firstControlPlane",
      reason:
        `cluster:hosts: ${olds.firstControlPlane} must stay the first host with the control-plane role: kubeadm init ran there and the ` +
        `cluster-side steps (tokens, drains, upgrades) run there` +
        (news.controlPlanes.includes(olds.firstControlPlane) ? " (restore the order of cluster:hosts)" : "; it cannot be removed while the cluster exists"),
    });
  }

  // Removing members needs a quorum of the old membership: k removals out of n are safe only
  // while k <= (n-1)/2, even if every removed member is already dead.
  const checkQuorum = (property: string, what: string, before: string[], after: string[]) => {
    const removed = before.filter((name) => !after.includes(name));
    const tolerance = Math.floor((before.length - 1) / 2);
    if (removed.length > tolerance) {
      failures.push({
        property,
        reason:
          `cluster:hosts: removing ${removed.join(", ")} takes ${removed.length} of ${before.length} ${what} away at once; ` +
          `etcd keeps quorum only if at most ${tolerance} go per update: remove ${tolerance === 0 ? "none" : `at most ${tolerance}`} now and the rest in later updates`,
      });
    }
  };
  if (news.etcdTopology === "stacked" && olds.etcdTopology !== "external") {
    checkQuorum("controlPlanes", "control planes (stacked etcd members)", olds.controlPlanes, news.controlPlanes);
  }
  if (news.etcdTopology === "external" && olds.etcdTopology === "external" && olds.etcdMembers) {
    checkQuorum("etcdMembers", "etcd members", olds.etcdMembers, news.etcdMembers);
  }
  if (olds.etcdTopology && olds.etcdTopology !== news.etcdTopology) {
    failures.push({
      property: "etcdTopology",
      reason: `cluster:etcd.topology: ${olds.etcdTopology} -> ${news.etcdTopology} would move etcd's data; migrating a running cluster is not supported`,
    });
  }

  const sameMembers = (a: string[] = [], b: string[] = []) => a.length === b.length && a.every((x) => b.includes(x));
  if (versionChanged && (!sameMembers(olds.controlPlanes, news.controlPlanes) || !sameMembers(olds.etcdMembers, news.etcdMembers))) {
    failures.push({
      property: "version",
      reason: `cluster:kubernetes.version: change the version and the control planes or etcd members in separate updates (a control plane joining mid-upgrade would not match the others)`,
    });
  }
  return failures;
}

const guardProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<MembershipState>, news: MembershipState) {
    const hasOlds = olds !== undefined && Object.keys(olds).length > 0;
    return { inputs: news, failures: lifecycleChangeFailures(hasOlds ? olds : undefined, news) };
  },
  async diff(_id: string, olds: MembershipState, news: MembershipState) {
    const keys = ["version", "firstControlPlane", "controlPlanes", "etcdTopology", "etcdMembers"] as const;
    const replaces: string[] = [];
    const changed = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: MembershipState) {
    return { id: "lifecycle-guard", outs: inputs };
  },
  async update(_id: string, _olds: MembershipState, news: MembershipState) {
    return { outs: news };
  },
};

/** Exposed for tests: call check() directly with previous and new states. */
export const lifecycleGuardProvider = guardProvider;

/**
 * Refuses unsafe lifecycle changes during preview: skipping a minor version, downgrades, losing
 * the first control plane, removing enough etcd members at once to lose quorum, and mixing an
 * upgrade with control-plane changes. The control-plane and worker steps depend on it.
 */
export class LifecycleGuard extends pulumi.dynamic.Resource {
  declare readonly version: pulumi.Output<string>;
  constructor(name: string, state: MembershipState, opts?: pulumi.CustomResourceOptions) {
    super(guardProvider, name, { ...state }, opts);
  }
}
