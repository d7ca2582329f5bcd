import { stringify as toToml } from "smol-toml";
import type { ClusterModel } from "../config";
import type { RenderedFile } from "../remote/shell";

export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const CERTS_DIR = "/etc/containerd/certs.d";
export const CRICTL_CONFIG = "/etc/crictl.yaml";

/** Where each well-known registry really lives (containerd's hosts.toml "server"). */
const UPSTREAM_SERVERS: Record<string, string> = { "docker.io": "https://registry-1.docker.io" };

/**
 * containerd config (schema version 2, read by containerd 1.6, 1.7 and 2.x): systemd cgroups,
 * the sandbox image, and registry settings delegated to per-registry hosts.toml files.
 */
export function renderContainerdConfig(model: ClusterModel): string {
  const cri = {
    sandbox_image: model.mirrors.sandboxImage,
    containerd: {
      default_runtime_name: "runc",
      runtimes: {
        runc: {
          runtime_type: "io.containerd.runc.v2",
          options: { SystemdCgroup: true },
        },
      },
    },
    registry: { config_path: CERTS_DIR },
    ...(model.runtime.containerd.restrictOomScoreAdj ? { restrict_oom_score_adj: true } : {}),
  };
  const doc = {
    version: 2,
    plugins: { "io.containerd.grpc.v1.cri": cri },
  };
  return "# Managed by kubeadm-on-pulumi; changes are overwritten.\n" + toToml(doc) + "\n";
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
