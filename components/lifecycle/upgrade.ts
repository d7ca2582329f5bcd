import type { ClusterModel, HostModel } from "../config";
import { packageManagerOf } from "../host/package-manager";
import { convergeDigest, ignorePreflightFlag, type ExternalEtcd } from "../kubeadm/config";
import { CONTROL_PLANE_CONFIG, kubeadmFunctions } from "../kubeadm/steps";
import { kubernetesRepository } from "../kube-packages/plan";
import { script, shQuote } from "../remote/shell";

/**
 * The ordered upgrade steps. They own the Kubernetes version (and package repository) of every
 * node after its first install, and re-apply the cluster configuration when it changes: the first
 * control plane runs `kubeadm upgrade apply`, the other control planes `kubeadm upgrade node` one
 * at a time, then the workers (in their kubeadm-join step) at most cluster:lifecycle.upgradeBatchSize
 * at once. Each checks what its node runs and does nothing when that is already the target, so at
 * cluster creation and on unrelated changes they are no-ops.
 */

/** How long a worker may wait for an upgrade slot before its step fails. */
export const SLOT_WAIT_SECONDS = 3 * 3600;

function targetVersion(model: ClusterModel): string[] {
  return [`target=${model.kubernetes.version}`, `package=${model.kubernetes.packageVersion}`];
}

function repositoryAndKubeadm(model: ClusterModel): string[] {
  return [
    `# The package repository of the target minor (${model.kubernetes.minorTag}).`,
    packageManagerOf(model).addRepository(kubernetesRepository(model)),
    'kop_kube_package kubeadm "$package"',
    `[ "$(kubeadm version -o short)" = "v$target" ] || kop_fail "kubeadm reports $(kubeadm version -o short), expected v$target"`,
  ];
}

const APPLIED = '"$KOP_STATE/kubeadm-config.applied"';

/** First control plane: upload the configuration, `kubeadm upgrade apply`, kube-proxy's config, then its kubelet. */
export function renderFirstControlPlaneUpgrade(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): string {
  const digest = convergeDigest(model, "first-control-plane", external);
  const body = [
    packageManagerOf(model).functions,
    kubeadmFunctions("state", "core", "images", "upgrade"),
    ...targetVersion(model),
    "kop_wait_for_api 300",
    "current=$(kop_cluster_version)",
    `[ -n "$current" ] || kop_fail "cannot read the cluster version through ${"$"}KOP_ADMIN_CONF"`,
    "# Before any package moves: one minor version at a time, never back.",
    'kop_check_upgrade_path "$current" "$target"',
    ...repositoryAndKubeadm(model),
    `applied=$(cat ${APPLIED} 2>/dev/null || true)`,
    `if [ "$current" != "$target" ] || [ "$applied" != ${shQuote(digest)} ]; then`,
    `  kop_log "applying Kubernetes v$target and the cluster configuration (the cluster runs v$current)"`,
    `  kop_pull_images ${CONTROL_PLANE_CONFIG}`,
    `  kubeadm init phase upload-config kubeadm --config ${CONTROL_PLANE_CONFIG}`,
    `  kubeadm init phase upload-config kubelet --config ${CONTROL_PLANE_CONFIG}`,
    `  kubeadm upgrade plan "v$target"${ignorePreflightFlag(model)} || kop_fail "kubeadm upgrade plan refuses v$target (its output is above)"`,
    `  kubeadm upgrade apply "v$target" --yes${ignorePreflightFlag(model)} || kop_fail "kubeadm upgrade apply v$target failed (its output is above); run pulumi up again to retry"`,
    "  proxy_before=$(kop_kubectl -n kube-system get configmap kube-proxy -o jsonpath='{.data.config\\.conf}')",
    `  kubeadm init phase addon kube-proxy --config ${CONTROL_PLANE_CONFIG}`,
    "  proxy_after=$(kop_kubectl -n kube-system get configmap kube-proxy -o jsonpath='{.data.config\\.conf}')",
    '  if [ "$proxy_before" != "$proxy_after" ]; then kop_kubectl -n kube-system rollout restart daemonset kube-proxy >/dev/null; fi',
    `  mkdir -p "$KOP_STATE" && printf '%s\\n' ${shQuote(digest)} >${APPLIED}`,
    "fi",
    `kop_upgrade_kubelet ${shQuote(host.name)} "$target" "$package" ${model.lifecycle.drainTimeoutSeconds}`,
  ];
  return script(`upgrade ${host.name} (first control plane) to Kubernetes ${model.kubernetes.version}`, body.join("\n"));
}

/** Another control plane: `kubeadm upgrade node` re-renders its static pods from the cluster's configuration. */
export function renderControlPlaneUpgrade(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): string {
  const digest = convergeDigest(model, "control-plane", external);
  const body = [
    packageManagerOf(model).functions,
    kubeadmFunctions("state", "core", "images", "upgrade"),
    ...targetVersion(model),
    ...repositoryAndKubeadm(model),
    "kop_wait_for_api 300",
    `applied=$(cat ${APPLIED} 2>/dev/null || true)`,
    `if [ "$applied" != ${shQuote(digest)} ] || ! grep -q "kube-apiserver:v$target\\$" /etc/kubernetes/manifests/kube-apiserver.yaml; then`,
    `  kop_pull_images ${CONTROL_PLANE_CONFIG}`,
    `  kubeadm upgrade node${ignorePreflightFlag(model)} || kop_fail "kubeadm upgrade node failed (its output is above); run pulumi up again to retry"`,
    `  mkdir -p "$KOP_STATE" && printf '%s\\n' ${shQuote(digest)} >${APPLIED}`,
    "fi",
    `kop_upgrade_kubelet ${shQuote(host.name)} "$target" "$package" ${model.lifecycle.drainTimeoutSeconds}`,
  ];
  return script(`upgrade control plane ${host.name} to Kubernetes ${model.kubernetes.version}`, body.join("\n"));
}

/**
 * A worker's upgrade, the end of its kubeadm-join step (components/workers/join.ts): kubeadm,
 * `kubeadm upgrade node` (its kubelet configuration), then, holding one of the upgrade slots,
 * drain itself, kubelet and kubectl, restart, uncordon. Needs the package-manager functions and the "state",
 * "core" and "upgrade" sections, with kubectl on the node-upgrader credentials (workers have no
 * admin credentials). Ends the script when the worker is current.
 */
export function workerUpgradeLines(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): string[] {
  const digest = convergeDigest(model, "worker", external);
  return [
    ...targetVersion(model),
    ...repositoryAndKubeadm(model),
    `applied=$(cat ${APPLIED} 2>/dev/null || true)`,
    `if [ "$applied" = ${shQuote(digest)} ] && [ "$(kop_kubelet_version)" = "$target" ] && kop_pkg_installed "kubectl=$package"; then exit 0; fi`,
    "kubelet_config=$(sha256sum /var/lib/kubelet/config.yaml 2>/dev/null || true)",
    `kubeadm upgrade node${ignorePreflightFlag(model)} || kop_fail "kubeadm upgrade node failed (its output is above); run pulumi up again to retry"`,
    `if [ "$(kop_kubelet_version)" != "$target" ] || ! kop_pkg_installed "kubectl=$package"; then`,
    `  kop_slot_acquire ${shQuote(host.name)} ${model.lifecycle.upgradeBatchSize} ${SLOT_WAIT_SECONDS}`,
    `  kop_upgrade_kubelet ${shQuote(host.name)} "$target" "$package" ${model.lifecycle.drainTimeoutSeconds}`,
    "  kop_slot_release",
    'elif [ "$kubelet_config" != "$(sha256sum /var/lib/kubelet/config.yaml)" ]; then',
    "  systemctl restart kubelet",
    "fi",
    `mkdir -p "$KOP_STATE" && printf '%s\\n' ${shQuote(digest)} >${APPLIED}`,
  ];
}
