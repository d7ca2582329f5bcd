import type { ClusterModel, HostModel } from "../config";
import { packageManagerOf } from "../host/package-manager";
import { osPrepId } from "../host/plan";
import { STATE_DIR } from "../host/prep";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import { stepId, type StepSpec } from "../remote/step";
import { DOCKER_REPO, dockerPackageRepository } from "./repository";
import { CERTS_DIR, CONTAINERD_CONFIG, CRICTL_CONFIG, registryHostsFiles, renderContainerdConfig, renderCrictlConfig } from "./containerd";
import {
  CRI_DOCKERD_SERVICE,
  CRI_DOCKERD_SOCKET,
  DOCKER_DAEMON_JSON,
  renderCriDockerdService,
  renderCriDockerdSocket,
  renderDaemonJson,
  renderProxyDropIn,
} from "./docker";
import { releaseFiles, releaseInstall, releaseRemove } from "./release";

export const runtimeInstallId = (host: string) => stepId(host, "runtime-install");
export const runtimeConfigId = (host: string) => stepId(host, "runtime-config");

const REGISTRY_MANIFEST = `${STATE_DIR}/containerd-registry-hosts`;

function dockerRepository(model: ClusterModel): string {
  return packageManagerOf(model).addRepository(dockerPackageRepository(model));
}

function installPackages(model: ClusterModel): { packages: string[]; install: string; purge: string } {
  const pm = packageManagerOf(model);
  let packages: string[];
  let repo = "";
  if (model.runtime.kind === "docker") {
    const pin = model.runtime.docker.packageVersion ? `=${model.runtime.docker.packageVersion}` : "";
    packages = [`docker-ce${pin}`, `docker-ce-cli${pin}`, "containerd.io"];
    repo = dockerRepository(model);
  } else if (model.runtime.containerd.source === "docker-ce") {
    const pin = model.runtime.containerd.packageVersion ? `=${model.runtime.containerd.packageVersion}` : "";
    packages = [`containerd.io${pin}`];
    repo = dockerRepository(model);
  } else if (model.runtime.containerd.source === "release") {
    packages = [];
  } else {
    packages = ["containerd", "runc"];
  }
  const fromRelease = model.runtime.kind === "containerd" && model.runtime.containerd.source === "release";
  // Where the runtime keeps its state and the CNI configuration goes: made by the packages or at
  // the runtime's first start, left behind by a purge; removed on delete when this step made them.
  const stateDirs = ["/var/lib/containerd", "/opt/containerd", "/run/containerd", "/etc/cni", "/etc/cni/net.d"];
  if (model.runtime.kind === "docker") stateDirs.push("/var/lib/docker", "/etc/docker", "/var/lib/cri-dockerd");
  const claim = `kop_claim_dirs runtime ${stateDirs.join(" ")}`;
  return {
    packages,
    install: fromRelease
      ? [claim, releaseInstall(model)].join("\n")
      : ["# shellcheck source=/dev/null", ". /etc/os-release", claim, repo, pm.install(packages, "runtime")].filter(Boolean).join("\n"),
    purge: [
      model.runtime.kind === "docker" ? "systemctl disable --now docker.socket docker.service 2>/dev/null || true" : "",
      fromRelease ? releaseRemove() : "systemctl disable --now containerd.service 2>/dev/null || true",
      fromRelease ? "" : pm.purgeRecorded("runtime"),
      "kop_release_dirs runtime",
      repo ? pm.removeRepository(DOCKER_REPO) : "",
    ]
      .filter(Boolean)
      .join("\n"),
  };
}

function criDockerdInstall(model: ClusterModel): string {
  const version = model.runtime.docker.criDockerdVersion;
  const base = model.mirrors.releases.criDockerd.replace(/\/$/, "");
  return String.raw`# --- cri-dockerd ${version} (the CRI shim kubelet talks to)
# Read whole, then compared (see the release files' install: grep -q under pipefail).
cri_dockerd_installed=$(/usr/local/bin/cri-dockerd --version 2>&1 || true)
if [[ "$cri_dockerd_installed" != *${shQuote(version)}* ]]; then
  arch=$(kop_arch)
  url=${shQuote(base)}/v${version}/cri-dockerd-${version}."$arch".tgz
  tmp=$(mktemp -d)
  kop_fetch "$url" >"$tmp/cri-dockerd.tgz" || kop_fail "cannot download cri-dockerd from $url (set cluster:mirrors.releases.criDockerd)"
  tar -xzf "$tmp/cri-dockerd.tgz" -C "$tmp"
  install -m 0755 "$tmp/cri-dockerd/cri-dockerd" /usr/local/bin/cri-dockerd
  rm -rf "$tmp"
fi`;
}

/** Runtime packages (and cri-dockerd): changes only when the runtime choice or its source changes. */
function renderInstall(model: ClusterModel, host: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const pkgs = installPackages(model);
  const body = [packageManagerOf(model).functions, pkgs.install, model.runtime.kind === "docker" ? criDockerdInstall(model) : ""];
  const deleteBody = [
    packageManagerOf(model).functions,
    model.runtime.kind === "docker"
      ? "systemctl disable --now cri-docker.socket cri-docker.service 2>/dev/null || true\nrm -f /usr/local/bin/cri-dockerd"
      : "",
    pkgs.purge,
  ];
  const source = model.runtime.containerd.source;
  const what = model.runtime.kind === "docker" ? "docker-ce and cri-dockerd" : source === "release" ? `containerd ${model.runtime.containerd.version} (release)` : `containerd (${source})`;
  return {
    files: model.runtime.kind === "containerd" && source === "release" ? releaseFiles() : [],
    script: script(`install ${what} on ${host.name}`, body.filter(Boolean).join("\n")),
    deleteScript: script(`remove ${what} from ${host.name}`, deleteBody.filter(Boolean).join("\n")),
  };
}

export function runtimeConfigFiles(model: ClusterModel): RenderedFile[] {
  const files: RenderedFile[] = [{ path: CRICTL_CONFIG, mode: "0644", content: renderCrictlConfig(model) }];
  const proxy = renderProxyDropIn(model);
  if (model.runtime.kind === "docker") {
    files.push(
      { path: DOCKER_DAEMON_JSON, mode: "0644", content: renderDaemonJson(model) },
      { path: CRI_DOCKERD_SERVICE, mode: "0644", content: renderCriDockerdService(model) },
      { path: CRI_DOCKERD_SOCKET, mode: "0644", content: renderCriDockerdSocket() },
    );
    if (proxy) files.push({ path: "/etc/systemd/system/docker.service.d/http-proxy.conf", mode: "0644", content: proxy });
  } else {
    files.push({ path: CONTAINERD_CONFIG, mode: "0644", content: renderContainerdConfig(model) }, ...registryHostsFiles(model));
    if (proxy) files.push({ path: "/etc/systemd/system/containerd.service.d/http-proxy.conf", mode: "0644", content: proxy });
  }
  return files;
}

/** Runtime configuration: the step a mirror or sandbox-image change re-runs, and nothing else. */
function renderConfig(model: ClusterModel, host: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const files = runtimeConfigFiles(model);
  const restartFlag = (f: RenderedFile) => {
    if (f.path.startsWith(CERTS_DIR) || f.path === CRICTL_CONFIG) return ":"; // read on every pull / call
    if (f.path.endsWith(".service") || f.path.endsWith(".socket") || f.path.includes(".service.d/")) return "reload=1; restart=1";
    return "restart=1";
  };
  const service = model.runtime.kind === "docker" ? "docker" : "containerd";
  const body: string[] = ["reload=0", "restart=0", `mkdir -p ${STATE_DIR}`, ...files.map((f) => putFile(f, restartFlag(f)))];
  if (model.runtime.kind === "containerd") {
    const wanted = registryHostsFiles(model).map((f) => f.path);
    body.push(
      "# Registry hosts files from earlier runs that are no longer configured go away.",
      `wanted=${shQuote(` ${wanted.join(" ")} `)}`,
      `if [ -f ${REGISTRY_MANIFEST} ]; then while read -r old; do case "$wanted" in *" $old "*) ;; *) kop_restore "$old"; rmdir "$(dirname "$old")" 2>/dev/null || true ;; esac; done <${REGISTRY_MANIFEST}; fi`,
      `printf '%s\\n' ${wanted.map(shQuote).join(" ") || "''"} | grep -v '^$' >${REGISTRY_MANIFEST}.new || true`,
      `mv -f ${REGISTRY_MANIFEST}.new ${REGISTRY_MANIFEST}`,
    );
  }
  body.push(
    'if [ "$reload" = 1 ]; then systemctl daemon-reload; fi',
    `systemctl enable ${service} >/dev/null 2>&1`,
    `if [ "$restart" = 1 ] || ! systemctl is-active --quiet ${service}; then systemctl restart ${service}; fi`,
  );
  if (model.runtime.kind === "docker") {
    body.push(
      "systemctl enable cri-docker.socket cri-docker.service >/dev/null 2>&1",
      'if [ "$restart" = 1 ] || ! systemctl is-active --quiet cri-docker.service; then systemctl restart cri-docker.socket cri-docker.service; fi',
    );
  }
  const socket = model.runtime.criSocket.replace("unix://", "");
  body.push(
    `for _ in $(seq 1 30); do [ -S ${socket} ] && break; sleep 1; done`,
    `[ -S ${socket} ] || kop_fail "the container runtime socket ${socket} did not appear: $(systemctl status ${service} --no-pager 2>&1 | tail -n 5)"`,
  );

  const deleteBody = [
    ...files.map((f) => `kop_restore ${shQuote(f.path)}`),
    model.runtime.kind === "containerd"
      ? `if [ -f ${REGISTRY_MANIFEST} ]; then while read -r old; do kop_restore "$old"; rmdir "$(dirname "$old")" 2>/dev/null || true; done <${REGISTRY_MANIFEST}; rm -f ${REGISTRY_MANIFEST}; fi`
      : "",
    model.runtime.kind === "containerd" ? `rmdir ${CERTS_DIR} /etc/containerd 2>/dev/null || true` : "",
    "systemctl daemon-reload",
    `if systemctl list-unit-files ${service}.service >/dev/null 2>&1; then systemctl restart ${service} 2>/dev/null || true; fi`,
  ];
  return {
    script: script(`configure ${service} on ${host.name}`, body.join("\n")),
    deleteScript: script(`restore the ${service} configuration on ${host.name}`, deleteBody.filter(Boolean).join("\n")),
    files,
  };
}

/** Kubernetes nodes only: the runtime install, then its configuration. */
export function planRuntime(model: ClusterModel): StepSpec[] {
  return model.nodes.flatMap((host): StepSpec[] => {
    const install = renderInstall(model, host);
    const config = renderConfig(model, host);
    return [
      {
        id: runtimeInstallId(host.name),
        host: host.name,
        layer: "runtime",
        description: `install the ${model.runtime.kind} runtime`,
        script: install.script,
        deleteScript: install.deleteScript,
        files: install.files,
        needs: [osPrepId(host.name)],
        secrets: [],
        timeouts: { create: "20m", update: "20m", delete: "10m" },
      },
      {
        id: runtimeConfigId(host.name),
        host: host.name,
        layer: "runtime",
        description: "container runtime configuration: cgroup driver, sandbox image, registry mirrors, crictl",
        script: config.script,
        deleteScript: config.deleteScript,
        files: config.files,
        units: model.runtime.kind === "docker" ? ["docker.service", "cri-docker.service"] : ["containerd.service"],
        needs: [runtimeInstallId(host.name)],
        secrets: [],
        timeouts: { create: "5m", update: "5m", delete: "5m" },
      },
    ];
  });
}
