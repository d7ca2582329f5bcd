import type { ClusterModel } from "../config";
import { externalEtcd } from "../etcd/plan";
import { hostsFileId } from "../host/plan";
import { kubePackagesId } from "../kube-packages/plan";
import {
  caHashId,
  configStep,
  joinId,
  kubeadmConfigId,
  kubeadmInitId,
  lastControlPlaneJoinId,
  lastControlPlaneUpgradeId,
  nodeStep,
  nodeUpgraderId,
  TIMEOUTS,
  workerAdmissionId,
} from "../kubeadm/node-plan";
import { renderWorkerAdmissionStep } from "../kubeadm/steps";
import type { LayerPlan } from "../plan";
import type { StepSpec } from "../remote/step";
import { renderWorkerJoinStep, workerJoinSecrets } from "./join";

/**
 * Each worker has two kubeadm steps besides its configuration: its join, which also keeps it at
 * the cluster's version (upgrades take upgrade slots at run time, so the graph's depth does not
 * grow with the workers), and its node step on the first control plane (labels and taints; its
 * delete drains the worker before the join's delete resets it). The join waits for every control
 * plane and their upgrades, so on removal or destroy every worker is drained and reset while all
 * control planes are still there. One admission step on the first control plane keeps the
 * bootstrap token valid for all of them.
 */
export function planWorkers(model: ClusterModel): LayerPlan {
  if (model.workers.length === 0) return { steps: [] };
  const layer = "workers" as const;
  const first = model.controlPlanes[0];
  const external = externalEtcd(model);
  const admission: StepSpec = {
    id: workerAdmissionId(first.name),
    host: first.name,
    layer,
    description: "a valid bootstrap token for the workers' joins; re-runs when the set of workers changes",
    script: renderWorkerAdmissionStep(model, first),
    files: [],
    needs: [kubeadmInitId(first.name)],
    secrets: ["bootstrap_token"],
    timeouts: TIMEOUTS.small,
  };
  const steps: StepSpec[] = model.workers.flatMap((w): StepSpec[] => {
    const join = renderWorkerJoinStep(model, w, external);
    return [
      configStep(model, w, layer, external),
      {
        id: joinId(w.name),
        host: w.name,
        layer,
        description: `kubeadm join, then kubeadm upgrade node and kubelet to ${model.kubernetes.version} while holding one of ${model.lifecycle.upgradeBatchSize} upgrade slot(s) (no-op when current); its delete resets the node and deletes its drained Node object`,
        script: join.script,
        deleteScript: join.deleteScript,
        files: [],
        needs: [
          kubeadmConfigId(w.name),
          kubePackagesId(w.name),
          hostsFileId(w.name),
          admission.id,
          caHashId(first.name),
          nodeUpgraderId(first.name),
          lastControlPlaneUpgradeId(model),
        ],
        secrets: workerJoinSecrets(w),
        units: ["kubelet.service"],
        timeouts: { ...TIMEOUTS.workerUpgrade, delete: TIMEOUTS.join.delete },
      },
      nodeStep(model, w, layer, [lastControlPlaneJoinId(model)]),
    ];
  });
  return { steps: [admission, ...steps] };
}
