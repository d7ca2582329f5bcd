import type { ClusterModel } from "../config";
import { etcdClientCertsId, etcdReadyIds, externalEtcd } from "../etcd/plan";
import { hostsFileId } from "../host/plan";
import { kubePackagesId } from "../kube-packages/plan";
import {
  ADMIN_KUBECONFIG,
  adminKubeconfigId,
  CA_CERT_HASH,
  caHashId,
  configStep,
  joiningControlPlaneSteps,
  joinId,
  kubeadmConfigId,
  kubeadmInitId,
  labelsStep,
  NODE_UPGRADER_KUBECONFIG,
  nodeUpgraderId,
  TIMEOUTS,
  upgradeId,
} from "../kubeadm/node-plan";
import { renderCaHashStep, renderInitStep, renderKubeconfigStep, renderUpgraderStep } from "../kubeadm/steps";
import { renderControlPlaneUpgrade, renderFirstControlPlaneUpgrade } from "../lifecycle/upgrade";
import { loadBalancerReadyIds } from "../load-balancer/plan";
import type { LayerPlan } from "../plan";
import type { StepSpec } from "../remote/step";

/**
 * The control planes: kubeadm init on the first (after its packages, the load balancer and
 * etcd), the admin kubeconfig and the CA's discovery hash read back as secrets, then the other
 * control planes joining one at a time, and the upgrade steps in the same order.
 */
export function planControlPlane(model: ClusterModel): LayerPlan {
  const layer = "control-plane" as const;
  const [first, ...others] = model.controlPlanes;
  const external = externalEtcd(model);
  const init = renderInitStep(model, first);
  const steps: StepSpec[] = [
    configStep(model, first, layer, external),
    {
      id: kubeadmInitId(first.name),
      host: first.name,
      layer,
      description: "images pre-pulled, then kubeadm init (token and certificate key on stdin); its delete resets the node",
      script: init.script,
      deleteScript: init.deleteScript,
      files: [],
      needs: [
        kubeadmConfigId(first.name),
        kubePackagesId(first.name),
        hostsFileId(first.name),
        ...loadBalancerReadyIds(model),
        ...etcdReadyIds(model),
        ...(external ? [etcdClientCertsId(first.name)] : []),
      ],
      secrets: ["bootstrap_token", "certificate_key"],
      units: ["kubelet.service"],
      timeouts: TIMEOUTS.init,
    },
    {
      id: caHashId(first.name),
      host: first.name,
      layer,
      description: "discovery hash of the cluster CA (secret output for the joins)",
      script: renderCaHashStep(first),
      files: [],
      needs: [kubeadmInitId(first.name)],
      secrets: [],
      output: "secret",
      timeouts: TIMEOUTS.small,
    },
    {
      id: adminKubeconfigId(first.name),
      host: first.name,
      layer,
      description: "the admin kubeconfig with the control-plane endpoint as server (secret stack output)",
      script: renderKubeconfigStep(model, first),
      files: [],
      needs: [kubeadmInitId(first.name)],
      secrets: [],
      output: "secret",
      timeouts: TIMEOUTS.small,
    },
    {
      id: nodeUpgraderId(first.name),
      host: first.name,
      layer,
      description: "service account the workers drain themselves with during upgrades (secret kubeconfig)",
      script: renderUpgraderStep(model, first),
      files: [],
      needs: [kubeadmInitId(first.name)],
      secrets: [],
      output: "secret",
      timeouts: TIMEOUTS.small,
    },
    labelsStep(first, first, layer, kubeadmInitId(first.name)),
  ];

  let previous = kubeadmInitId(first.name);
  for (const cp of others) {
    steps.push(configStep(model, cp, layer, external), ...joiningControlPlaneSteps(model, cp, { layer, after: previous }));
    previous = joinId(cp.name);
  }

  steps.push({
    id: upgradeId(first.name),
    host: first.name,
    layer,
    description: `kubeadm upgrade apply to ${model.kubernetes.version} and the cluster configuration, then this node's kubelet (no-op when current)`,
    script: renderFirstControlPlaneUpgrade(model, first, external),
    files: [],
    needs: [kubeadmInitId(first.name), kubeadmConfigId(first.name)],
    secrets: [],
    timeouts: TIMEOUTS.upgrade,
  });
  let previousUpgrade = upgradeId(first.name);
  for (const cp of others) {
    steps.push({
      id: upgradeId(cp.name),
      host: cp.name,
      layer,
      description: `kubeadm upgrade node to ${model.kubernetes.version}, then this node's kubelet, after ${previousUpgrade.split("/")[0]} (no-op when current)`,
      script: renderControlPlaneUpgrade(model, cp, external),
      files: [],
      needs: [previousUpgrade, joinId(cp.name), kubeadmConfigId(cp.name)],
      secrets: [],
      timeouts: TIMEOUTS.upgrade,
    });
    previousUpgrade = upgradeId(cp.name);
  }

  return {
    steps,
    outputSecrets: {
      [CA_CERT_HASH]: caHashId(first.name),
      [ADMIN_KUBECONFIG]: adminKubeconfigId(first.name),
      [NODE_UPGRADER_KUBECONFIG]: nodeUpgraderId(first.name),
    },
  };
}
