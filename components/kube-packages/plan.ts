import type { ClusterModel, HostModel } from "../config";
import { packageManagerOf, type Repository } from "../host/package-manager";
import { script } from "../remote/shell";
import { stepId, type StepSpec } from "../remote/step";
import { runtimeConfigId } from "../runtime/plan";

export const kubePackagesId = (host: string) => stepId(host, "kube-packages");
export const KUBE_PACKAGES = ["kubeadm", "kubelet", "kubectl"];
/** Name of the Kubernetes package repository (its sources list and key), shared with the upgrade steps. */
export const KUBE_REPOSITORY = "kubernetes";

/**
 * The per-minor repository: <base>/v1.29/deb/ with a flat "/" suite, or on the RHEL family
 * <base>/v1.29/rpm/ (its key is repodata/repomd.xml.key there).
 */
export function kubernetesRepository(model: ClusterModel): Repository {
  const base = `${model.mirrors.kubernetesPackages.replace(/\/$/, "")}/${model.kubernetes.minorTag}`;
  if (model.os.family === "rhel") {
    return { format: "rpm", name: KUBE_REPOSITORY, baseUrl: `${base}/rpm/`, keyUrl: `${base}/rpm/repodata/repomd.xml.key` };
  }
  return { format: "deb", name: KUBE_REPOSITORY, url: `${base}/deb/`, suite: "/", components: [], keyUrl: `${base}/deb/Release.key` };
}

/**
 * The first install of kubeadm, kubelet and kubectl at the pinned version. A node that has them
 * keeps its version here: after the first install, the version (and the repository's minor)
 * belong to the ordered upgrade steps (components/lifecycle/upgrade.ts). Once the packages are
 * installed the script leaves them as they are, so a version bump that re-runs it (inside the
 * host's node-prep, components/remote/bundle.ts) never moves a package out of the upgrade order.
 */
export function renderKubePackages(model: ClusterModel, host: HostModel): { script: string; deleteScript: string } {
  const pm = packageManagerOf(model);
  const version = model.kubernetes.packageVersion;
  const installed = KUBE_PACKAGES.map((p) => `kop_pkg_installed ${p}`).join(" && ");
  const body = [
    pm.functions,
    `if ${installed}; then`,
    `  kop_log "kubeadm, kubelet and kubectl are installed ($(kop_pkg_version kubeadm)); version changes go through the upgrade steps"`,
    "else",
    pm.addRepository(kubernetesRepository(model)),
    pm.unhold(KUBE_PACKAGES),
    pm.install(KUBE_PACKAGES.map((p) => `${p}=${version}`), "kube-packages"),
    `  kubeadm_version=$(kubeadm version -o short 2>/dev/null || true)`,
    `  [ "$kubeadm_version" = "v${model.kubernetes.version}" ] || kop_fail "kubeadm reports '$kubeadm_version', expected v${model.kubernetes.version}"`,
    "fi",
    pm.hold(KUBE_PACKAGES),
    "systemctl enable kubelet >/dev/null 2>&1",
  ];
  const deleteBody = [
    pm.functions,
    "systemctl disable --now kubelet 2>/dev/null || true",
    pm.purgeRecorded("kube-packages"),
    pm.removeRepository(KUBE_REPOSITORY),
  ];
  return {
    script: script(`install kubeadm, kubelet and kubectl ${version} on ${host.name}`, body.join("\n")),
    deleteScript: script(`remove the Kubernetes packages from ${host.name}`, deleteBody.join("\n")),
  };
}


export function planKubePackages(model: ClusterModel): StepSpec[] {
  return model.nodes.map((host) => {
    const rendered = renderKubePackages(model, host);
    return {
      id: kubePackagesId(host.name),
      host: host.name,
      layer: "packages",
      description: `kubeadm, kubelet and kubectl pinned to ${model.kubernetes.packageVersion} and held (first install; upgrades own later versions)`,
      script: rendered.script,
      deleteScript: rendered.deleteScript,
      files: [],
      needs: [runtimeConfigId(host.name)],
      secrets: [],
      timeouts: { create: "15m", update: "15m", delete: "10m" },
    };
  });
}
