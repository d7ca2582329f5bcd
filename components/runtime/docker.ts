import type { ClusterModel } from "../config";
import { nthAddress, parseCidr } from "../config/net";

export const DOCKER_DAEMON_JSON = "/etc/docker/daemon.json";
export const CRI_DOCKERD_SERVICE = "/etc/systemd/system/cri-docker.service";
export const CRI_DOCKERD_SOCKET = "/etc/systemd/system/cri-docker.socket";

/** docker's log sizes are written "100m", kubelet's "100Mi". */
function dockerSize(size: string): string {
  return size.replace(/([KMG])i$/, (_, unit: string) => unit.toLowerCase()).toLowerCase();
}

export function renderDaemonJson(model: ClusterModel): string {
  const config: Record<string, unknown> = {
    "exec-opts": ["native.cgroupdriver=systemd"],
    "log-driver": "json-file",
    "log-opts": { "max-size": dockerSize(model.runtime.logMaxSize), "max-file": String(model.runtime.logMaxFiles) },
    "storage-driver": "overlay2",
  };
  const dockerHubMirrors = model.mirrors.registryMirrors["docker.io"];
  if (dockerHubMirrors) config["registry-mirrors"] = dockerHubMirrors; // dockerd mirrors Docker Hub only
  if (model.mirrors.insecureRegistries.length > 0) config["insecure-registries"] = model.mirrors.insecureRegistries;
  return JSON.stringify(config, null, 2) + "\n";
}

/** NO_PROXY always covers the cluster's own networks, or pods and services would be sent to the proxy. */
export function noProxyList(model: ClusterModel): string[] {
  const own = [
    "localhost",
    "127.0.0.1",
    model.kubernetes.podSubnet,
    model.kubernetes.serviceSubnet,
    nthAddress(parseCidr(model.kubernetes.serviceSubnet)!, 1),
    ...model.kubernetes.nodeSubnets,
    ...model.hosts.map((h) => h.internalAddress),
    model.endpoint.host,
    `.${model.kubernetes.dnsDomain}`,
    ".svc",
  ];
  return [...new Set([...own, ...(model.runtime.proxy?.noProxy ?? [])])];
}

/** systemd drop-in with the proxy for a runtime service, or undefined when no proxy is configured. */
export function renderProxyDropIn(model: ClusterModel): string | undefined {
  const proxy = model.runtime.proxy;
  if (!proxy || (!proxy.http && !proxy.https)) return undefined;
  const env: string[] = [];
  if (proxy.http) env.push(`"HTTP_PROXY=${proxy.http}"`, `"http_proxy=${proxy.http}"`);
  if (proxy.https) env.push(`"HTTPS_PROXY=${proxy.https}"`, `"https_proxy=${proxy.https}"`);
  const noProxy = noProxyList(model).join(",");
  env.push(`"NO_PROXY=${noProxy}"`, `"no_proxy=${noProxy}"`);
  return ["# Managed by kubeadm-on-pulumi", "[Service]", ...env.map((e) => `Environment=${e}`), ""].join("\n");
}

export function renderCriDockerdService(model: ClusterModel): string {
  return `# Managed by kubeadm-on-pulumi
[Unit]
Description=CRI interface for Docker Engine (cri-dockerd)
Documentation=https://github.com/Mirantis/cri-dockerd
After=network-online.target firewalld.service docker.service
Wants=network-online.target
Requires=cri-docker.socket

[Service]
Type=notify
ExecStart=/usr/local/bin/cri-dockerd --container-runtime-endpoint fd:// --network-plugin=cni --cni-bin-dir=/opt/cni/bin --cni-conf-dir=/etc/cni/net.d --pod-infra-container-image=${model.mirrors.sandboxImage}
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process

[Install]
WantedBy=multi-user.target
`;
}

export function renderCriDockerdSocket(): string {
  return `# Managed by kubeadm-on-pulumi
[Unit]
Description=CRI Docker Socket for the API
PartOf=cri-docker.service

[Socket]
ListenStream=%t/cri-dockerd.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
`;
}
