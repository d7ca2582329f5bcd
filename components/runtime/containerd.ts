import { stringify as toToml } from "smol-toml";
import type { ClusterModel } from "../config";
import type { RenderedFile } from "../remote/shell";

export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const CERTS_DIR = "/etc/containerd/certs.d";
export const CRICTL_CONFIG = "/etc/crictl.yaml";

/** Where each well-known registry really lives (containerd's hosts.toml "server"). */
const UPSTREAM_SERVERS: Record<string, string> = { "docker.io": "https://registry-1.docker.io" };

/**
 * containerd's config.toml: systemd cgroups, the sandbox image, and registry settings delegated to
 * per-registry hosts.toml files. Schema version 3 for containerd 2 (model.runtime.containerd
 * .configVersion); otherwise version 2, which containerd 1.6, 1.7 and 2.x all read.
 */
export function renderContainerdConfig(model: ClusterModel): string {
  const doc = model.runtime.containerd.configVersion === 3 ? configVersion3(model) : configVersion2(model);
  return "# Managed by kubeadm-on-pulumi; changes are overwritten.\n" + toToml(doc) + "\n";
}

const RUNC = { runtime_type: "io.containerd.runc.v2", options: { SystemdCgroup: true } };

function configVersion2(model: ClusterModel): Record<string, unknown> {
  const cri = {
    sandbox_image: model.mirrors.sandboxImage,
    containerd: { default_runtime_name: "runc", runtimes: { runc: RUNC } },
    registry: { config_path: CERTS_DIR },
    ...(model.runtime.containerd.restrictOomScoreAdj ? { restrict_oom_score_adj: true } : {}),
  };
  return { version: 2, plugins: { "io.containerd.grpc.v1.cri": cri } };
}

/** containerd 2: the CRI plugin is split into an images and a runtime plugin. */
function configVersion3(model: ClusterModel): Record<string, unknown> {
  return {
    version: 3,
    plugins: {
      "io.containerd.cri.v1.images": {
        pinned_images: { sandbox: model.mirrors.sandboxImage },
        registry: { config_path: CERTS_DIR },
      },
      "io.containerd.cri.v1.runtime": {
        containerd: { default_runtime_name: "runc", runtimes: { runc: RUNC } },
        ...(model.runtime.containerd.restrictOomScoreAdj ? { restrict_oom_score_adj: true } : {}),
      },
    },
  };
}

/** Registries that need a hosts.toml: mirrored ones and insecure ones. */
export function registryHostsFiles(model: ClusterModel): RenderedFile[] {
  const registries = new Set([...Object.keys(model.mirrors.registryMirrors), ...model.mirrors.insecureRegistries]);
  return [...registries].sort().map((registry) => {
    const insecure = model.mirrors.insecureRegistries.includes(registry);
    const server = UPSTREAM_SERVERS[registry] ?? `${insecure ? "http" : "https"}://${registry}`;
    const host: Record<string, { capabilities: string[]; skip_verify?: boolean }> = {};
    for (const mirror of model.mirrors.registryMirrors[registry] ?? []) {
      host[mirror] = { capabilities: ["pull", "resolve"], ...(insecure ? { skip_verify: true } : {}) };
    }
    if (insecure) host[server] = { capabilities: ["pull", "resolve", "push"], skip_verify: true };
    const doc = { server, host };
    return {
      path: `${CERTS_DIR}/${registry.split("/")[0]}/hosts.toml`,
      mode: "0644",
      content: "# Managed by kubeadm-on-pulumi\n" + toToml(doc) + "\n",
    };
  });
}

export function renderCrictlConfig(model: ClusterModel): string {
  const socket = model.runtime.criSocket;
  return [`runtime-endpoint: ${socket}`, `image-endpoint: ${socket}`, "timeout: 10", "debug: false", ""].join("\n");
}
