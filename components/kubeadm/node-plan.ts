import type { ClusterModel, HostModel } from "../config";
import { etcdClientCertsId } from "../etcd/plan";
import { hostsFileId } from "../host/plan";
import { kubePackagesId } from "../kube-packages/plan";
import { stepId, type LayerName, type StepSpec } from "../remote/step";
import type { ExternalEtcd } from "./config";
import { joinSecrets, renderAdmitStep, renderConfigStep, renderJoinStep, renderLabelsStep, renderNodeStep } from "./steps";

/** Step ids of the kubeadm node lifecycle. Steps owned by a node carry its name, wherever they run. */
export const kubeadmConfigId = (host: string) => stepId(host, "kubeadm-config");
export const kubeadmInitId = (first: string) => stepId(first, "kubeadm-init");
export const caHashId = (first: string) => stepId(first, "cluster-ca-hash");
export const adminKubeconfigId = (first: string) => stepId(first, "admin-kubeconfig");
export const nodeUpgraderId = (first: string) => stepId(first, "node-upgrader");
/** Runs on the first control plane: token and certificates for this control plane's join; deletes its Node object. */
export const admitId = (node: string) => stepId(node, "admit");
/** Runs on the first control plane: the bootstrap token for every worker's join. */
export const workerAdmissionId = (first: string) => stepId(first, "worker-admission");
export const joinId = (node: string) => stepId(node, "kubeadm-join");
/** Runs on the first control plane: the node registered with its labels and taints; drains it (and removes its etcd member) when it leaves. */
export const nodeId = (node: string) => stepId(node, "node");
/** The first control plane's labels and taints (the other nodes' are set by their node step). */
export const labelsId = (node: string) => stepId(node, "node-labels");
export const upgradeId = (node: string) => stepId(node, "kubeadm-upgrade");

/** Secrets produced by steps of these layers. */
export const CA_CERT_HASH = "ca_cert_hash";
export const ADMIN_KUBECONFIG = "admin_kubeconfig";
export const NODE_UPGRADER_KUBECONFIG = "node_upgrader_kubeconfig";

export const TIMEOUTS = {
  config: { create: "2m", update: "2m", delete: "2m" },
  init: { create: "30m", update: "30m", delete: "15m" },
  small: { create: "10m", update: "10m", delete: "10m" },
  join: { create: "30m", update: "30m", delete: "15m" },
  upgrade: { create: "90m", update: "90m", delete: "2m" },
  workerUpgrade: { create: "4h", update: "4h", delete: "2m" },
} as const;

/** The init and every join. */
export function nodeJoinIds(model: ClusterModel): string[] {
  const [first, ...others] = model.controlPlanes;
  return [kubeadmInitId(first.name), ...[...others, ...model.workers].map((h) => joinId(h.name))];
}

/** The step after which every control plane has joined (the init with a single control plane). */
export function lastControlPlaneJoinId(model: ClusterModel): string {
  const cps = model.controlPlanes;
  return cps.length === 1 ? kubeadmInitId(cps[0].name) : joinId(cps[cps.length - 1].name);
}

/** The step after which every control plane is upgraded. */
export function lastControlPlaneUpgradeId(model: ClusterModel): string {
  return upgradeId(model.controlPlanes[model.controlPlanes.length - 1].name);
}

export function configStep(model: ClusterModel, host: HostModel, layer: LayerName, external: ExternalEtcd | undefined): StepSpec {
  const rendered = renderConfigStep(model, host, external);
  return {
    id: kubeadmConfigId(host.name),
    host: host.name,
    layer,
    description: "kubeadm configuration files (no secrets): the node's kubeadm.yaml / join.yaml and what it converges to",
    script: rendered.script,
    deleteScript: rendered.deleteScript,
    files: rendered.files,
    needs: [kubePackagesId(host.name)],
    secrets: [],
    timeouts: TIMEOUTS.config,
  };
}

/**
 * A joining control plane's steps: admit (on the first control plane), join, node (labels and
 * taints; drain on removal; on the first control plane). `after` orders the admit step (the
 * previous control plane's join: control planes join one at a time). Workers:
 * components/workers/plan.ts.
 */
export function joiningControlPlaneSteps(model: ClusterModel, node: HostModel, opts: { layer: LayerName; after: string }): StepSpec[] {
  const first = model.controlPlanes[0];
  const admit = renderAdmitStep(model, node, first);
  const join = renderJoinStep(model, node);
  const external = model.etcd.topology === "external";
  return [
    {
      id: admitId(node.name),
      host: first.name,
      layer: opts.layer,
      description: `a valid bootstrap token, current ClusterConfiguration and uploaded certificates for ${node.name}'s join; its delete removes the Node object`,
      script: admit.script,
      deleteScript: admit.deleteScript,
      files: [],
      needs: [opts.after, kubeadmConfigId(first.name)],
      secrets: ["bootstrap_token", "certificate_key"],
      timeouts: TIMEOUTS.small,
    },
    {
      id: joinId(node.name),
      host: node.name,
      layer: opts.layer,
      description: `kubeadm join --control-plane; its delete resets the node (kubeadm reset, CNI, iptables, state directories)`,
      script: join.script,
      deleteScript: join.deleteScript,
      files: [],
      needs: [
        kubeadmConfigId(node.name),
        admitId(node.name),
        caHashId(first.name),
        kubePackagesId(node.name),
        hostsFileId(node.name),
        ...(external ? [etcdClientCertsId(node.name)] : []),
      ],
      secrets: joinSecrets(node),
      units: ["kubelet.service"],
      timeouts: TIMEOUTS.join,
    },
    nodeStep(model, node, opts.layer, []),
  ];
}

/** The node step (on the first control plane): labels and taints; its delete drains the node before the reset. */
export function nodeStep(model: ClusterModel, node: HostModel, layer: LayerName, after: string[]): StepSpec {
  const first = model.controlPlanes[0];
  const drain = renderNodeStep(model, node, first);
  return {
    id: nodeId(node.name),
    host: first.name,
    layer,
    description: `node ${node.name} registered, labels and taints from cluster:hosts; its delete drains it${node.isControlPlane && model.etcd.topology === "stacked" ? " and removes its etcd member" : ""} before the reset`,
    script: drain.script,
    deleteScript: drain.deleteScript,
    files: [],
    needs: [joinId(node.name), ...after.filter((id) => id !== joinId(node.name))],
    secrets: [],
    timeouts: { create: "15m", update: "15m", delete: `${Math.ceil(model.lifecycle.drainTimeoutSeconds / 60) + 10}m` },
  };
}

export function labelsStep(node: HostModel, first: HostModel, layer: LayerName, after: string): StepSpec {
  return {
    id: labelsId(node.name),
    host: first.name,
    layer,
    description: "labels and taints from cluster:hosts (ones set earlier and since removed from the config are removed)",
    script: renderLabelsStep(node, first),
    files: [],
    needs: [after],
    secrets: [],
    timeouts: TIMEOUTS.small,
  };
}
