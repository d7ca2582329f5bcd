import type { ClusterModel, HostModel } from "../config";
import { packageManagerOf } from "../host/package-manager";
import type { ExternalEtcd } from "../kubeadm/config";
import { JOIN_DONE, joinCommands, joinSecrets, kubeadmFunctions, nodeObjectRemovalLines, teardownLines } from "../kubeadm/steps";
import { workerUpgradeLines } from "../lifecycle/upgrade";
import { script } from "../remote/shell";
import { NODE_UPGRADER_KUBECONFIG } from "../kubeadm/node-plan";

/** What a worker's kubeadm-join step reads from stdin, in this order: the join's secrets, then the upgrade's. */
export function workerJoinSecrets(host: HostModel): string[] {
  return [...joinSecrets(host), NODE_UPGRADER_KUBECONFIG];
}

/**
 * A worker's one kubeadm step: join (once), then converge to the cluster's Kubernetes version
 * (the worker upgrade, a no-op on a new cluster). One step instead of a join and an upgrade
 * step: the Pulumi SDK's cost per resource dominates the program at 1000 workers
 * (docs/benchmarks.md). kubectl runs on the node-upgrader credentials from stdin (a worker has
 * no admin credentials), also in the delete: reset the host, then delete the Node object the
 * node step's delete drained.
 */
export function renderWorkerJoinStep(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): { script: string; deleteScript: string } {
  const kubectlCredentials = [
    "# No admin credentials on a worker: kubectl uses the node-upgrader kubeconfig from stdin.",
    `KOP_KUBECONFIG_SECRET=SECRET_${NODE_UPGRADER_KUBECONFIG}`,
  ];
  const secrets = workerJoinSecrets(host);
  const body = [
    packageManagerOf(model).functions,
    kubeadmFunctions("state", "core", "secrets", "join", "upgrade"),
    ...kubectlCredentials,
    `if [ -f "${JOIN_DONE}" ]; then`,
    `  kop_log "${host.name} has joined"`,
    "else",
    ...joinCommands(model, host),
    "fi",
    ...workerUpgradeLines(model, host, external),
  ];
  const deleteBody = [
    kubeadmFunctions("state", "core", "teardown"),
    ...kubectlCredentials,
    ...teardownLines(model, host),
    // After the reset: a kubelet still running would register the node again.
    'if ! kop_kubectl get --raw /readyz >/dev/null 2>&1; then',
    `  kop_log "the API server does not answer: the Node object of ${host.name} stays (delete it with kubectl delete node ${host.name})"`,
    "  exit 0",
    "fi",
    ...nodeObjectRemovalLines(host),
  ];
  return {
    script: script(`kubeadm join ${host.name}, then keep it at Kubernetes ${model.kubernetes.version}`, body.join("\n"), secrets),
    deleteScript: script(`reset ${host.name} and clean it for a fresh join, then delete its drained Node object`, deleteBody.join("\n"), secrets),
  };
}
