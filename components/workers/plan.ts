import type { ClusterModel } from "../config";
import { externalEtcd } from "../etcd/plan";
import {
  configStep,
  joiningNodeSteps,
  joinId,
  kubeadmInitId,
  lastControlPlaneJoinId,
  lastControlPlaneUpgradeId,
  NODE_UPGRADER_KUBECONFIG,
  nodeUpgraderId,
  TIMEOUTS,
  upgradeId,
} from "../kubeadm/node-plan";
import { renderWorkerUpgrade } from "../lifecycle/upgrade";
import type { LayerPlan } from "../plan";
import type { StepSpec } from "../remote/step";

/**
 * Workers join in parallel, each needing only the init and its own packages. A worker's drain
 * step waits for the last control plane's join, so on removal or destroy every worker is
 * drained while all control planes are still there. Upgrades wait for the control planes and
 * then take upgrade slots at run time, so the graph's depth does not grow with the workers.
 */
export function planWorkers(model: ClusterModel): LayerPlan {
  const layer = "workers" as const;
  const first = model.controlPlanes[0];
  const external = externalEtcd(model);
  const steps: StepSpec[] = model.workers.flatMap((w): StepSpec[] => [
    configStep(model, w, layer, external),
    ...joiningNodeSteps(model, w, { layer, after: kubeadmInitId(first.name), nodeAfter: [lastControlPlaneJoinId(model)] }),
    {
      id: upgradeId(w.name),
      host: w.name,
      layer,
      description: `kubeadm upgrade node to ${model.kubernetes.version}, then kubelet while holding one of ${model.lifecycle.upgradeBatchSize} upgrade slot(s) (no-op when current)`,
      script: renderWorkerUpgrade(model, w, external),
      files: [],
      needs: [joinId(w.name), lastControlPlaneUpgradeId(model), nodeUpgraderId(first.name)],
      secrets: [NODE_UPGRADER_KUBECONFIG],
      timeouts: TIMEOUTS.workerUpgrade,
    },
  ]);
  return { steps };
}
