import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { kubeletServingCertificates } from "../addons/csr-approver";
import type { ClusterModel, HostModel } from "../config";
import { CGROUP_V2_REQUIRED_FROM } from "../config/kubernetes";

/**
 * Pure renderers for kubeadm's configuration documents: typed model in, YAML out. The kubeadm
 * API version follows the Kubernetes version (model.kubernetes.kubeadmApiVersion: v1beta3 up to
 * 1.30, v1beta4 from 1.31); v1beta4 writes every extraArgs as a list of {name, value}.
 */

export type KubeadmApi = ClusterModel["kubernetes"]["kubeadmApiVersion"];

/** What kubeadm's ClusterConfiguration etcd.external needs (from components/etcd). */
export interface ExternalEtcd {
  endpoints: string[];
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * Secrets are never part of a rendered file. A join configuration carries these placeholders,
 * which the join script replaces from stdin into a private temporary copy (kop_fill_secrets).
 */
export const SECRET_PLACEHOLDERS = {
  bootstrap_token: "KOP_SECRET_bootstrap_token",
  certificate_key: "KOP_SECRET_certificate_key",
  ca_cert_hash: "KOP_SECRET_ca_cert_hash",
} as const;
export type JoinSecret = keyof typeof SECRET_PLACEHOLDERS;

export const CONTROL_PLANE_TAINT = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" } as const;
export const BOOTSTRAP_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token";
export const BOOTSTRAP_TOKEN_TTL = "24h0m0s";

type Args = Record<string, string>;
type Doc = Record<string, unknown>;

/** v1beta3: a map; v1beta4: a list of {name, value} (sorted by name: the order kubeadm prints). */
export function extraArgs(api: KubeadmApi, args: Args): Doc | Array<{ name: string; value: string }> {
  const names = Object.keys(args).sort();
  if (api === "kubeadm.k8s.io/v1beta3") return Object.fromEntries(names.map((n) => [n, args[n]]));
  return names.map((name) => ({ name, value: args[name] }));
}

function featureGatesArg(model: ClusterModel): Args {
  const gates = Object.entries(model.kubernetes.featureGates);
  if (gates.length === 0) return {};
  return { "feature-gates": gates.map(([gate, on]) => `${gate}=${on}`).join(",") };
}

/** Our defaults first, then the user's extraArgs (the user wins on the same flag). */
function componentArgs(model: ClusterModel, ours: Args, user: Args): Args {
  return { ...featureGatesArg(model), ...ours, ...user };
}

function monitoringEnabled(model: ClusterModel): boolean {
  return model.addons.monitoring.enabled;
}

/**
 * Names and addresses the API server certificate must carry: the endpoint, the VIP, every
 * control plane (name, internal and SSH address) and the configured extras. kubeadm adds the
 * node's own address and the service IP by itself.
 */
export function certSANs(model: ClusterModel): string[] {
  const names = [model.endpoint.host];
  if (model.loadBalancer.vip) names.push(model.loadBalancer.vip);
  for (const cp of model.controlPlanes) names.push(cp.name, cp.internalAddress, cp.address);
  names.push(...model.kubernetes.certSANs);
  return [...new Set(names)];
}

export function controlPlaneEndpoint(model: ClusterModel): string {
  return `${model.endpoint.host}:${model.endpoint.port}`;
}

function etcdSection(model: ClusterModel, external: ExternalEtcd | undefined): Doc {
  const api = model.kubernetes.kubeadmApiVersion;
  if (model.etcd.topology === "external") {
    if (!external) throw new Error("etcd topology is external but no external etcd endpoints were given to the kubeadm renderer");
    return { external: { endpoints: external.endpoints, caFile: external.caFile, certFile: external.certFile, keyFile: external.keyFile } };
  }
  const local: Doc = { dataDir: model.etcd.dataDir };
  // kubeadm binds etcd's metrics to 127.0.0.1:2381; Prometheus needs it on the node's address.
  if (monitoringEnabled(model)) local.extraArgs = extraArgs(api, { "listen-metrics-urls": "http://0.0.0.0:2381" });
  return { local };
}

export function clusterConfiguration(model: ClusterModel, external: ExternalEtcd | undefined, opts: { withCertSANs?: boolean } = {}): Doc {
  const api = model.kubernetes.kubeadmApiVersion;
  const k = model.kubernetes;
  const metricsBind: Args = monitoringEnabled(model) ? { "bind-address": "0.0.0.0" } : {};
  const apiServer: Doc = {};
  if (opts.withCertSANs ?? true) apiServer.certSANs = certSANs(model);
  const apiServerArgs = componentArgs(model, {}, k.apiServerExtraArgs);
  if (Object.keys(apiServerArgs).length > 0) apiServer.extraArgs = extraArgs(api, apiServerArgs);
  const component = (ours: Args, user: Args): Doc => {
    const args = componentArgs(model, ours, user);
    return Object.keys(args).length > 0 ? { extraArgs: extraArgs(api, args) } : {};
  };
  const doc: Doc = {
    apiVersion: api,
    kind: "ClusterConfiguration",
    clusterName: model.name,
    kubernetesVersion: `v${k.version}`,
    controlPlaneEndpoint: controlPlaneEndpoint(model),
    imageRepository: model.mirrors.imageRepository,
    networking: { podSubnet: k.podSubnet, serviceSubnet: k.serviceSubnet, dnsDomain: k.dnsDomain },
    apiServer,
    controllerManager: component(metricsBind, k.controllerManagerExtraArgs),
    scheduler: component(metricsBind, k.schedulerExtraArgs),
    etcd: etcdSection(model, external),
  };
  for (const key of ["apiServer", "controllerManager", "scheduler"]) if (Object.keys(doc[key] as Doc).length === 0) delete doc[key];
  return doc;
}

/** Container log size in kubelet's quantity form: docker-style "100m" means 100Mi there, not 0.1. */
export function kubeletLogSize(size: string): string {
  const m = /^(\d+)([kmg])$/.exec(size);
  return m ? `${m[1]}${m[2].toUpperCase()}i` : size;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

export function kubeletConfiguration(model: ClusterModel): Doc {
  const ours: Doc = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupDriver: "systemd",
    clusterDNS: [model.kubernetes.clusterDns],
    clusterDomain: model.kubernetes.dnsDomain,
    containerLogMaxSize: kubeletLogSize(model.runtime.logMaxSize),
    containerLogMaxFiles: model.runtime.logMaxFiles,
    rotateCertificates: true,
  };
  // Serving certificates signed by the cluster CA (approved by the add-ons' kubelet-csr-approver),
  // so metrics-server and Prometheus can verify kubelets.
  if (kubeletServingCertificates(model)) ours.serverTLSBootstrap = true;
  // From 1.35 the kubelet refuses cgroup v1 unless told otherwise (cluster:kubernetes.allowCgroupV1).
  if (model.kubernetes.allowCgroupV1 && model.kubernetes.minor >= CGROUP_V2_REQUIRED_FROM) ours.failCgroupV1 = false;
  if (Object.keys(model.kubernetes.featureGates).length > 0) ours.featureGates = { ...model.kubernetes.featureGates };
  // cluster:kubernetes.kubeletExtraConfig is merged last: the user's settings win.
  return deepMerge(ours, model.kubernetes.kubeletExtraConfig);
}

export function kubeProxyConfiguration(model: ClusterModel): Doc {
  const doc: Doc = {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: model.kubernetes.kubeProxyMode,
    clusterCIDR: model.kubernetes.podSubnet,
  };
  if (monitoringEnabled(model)) doc.metricsBindAddress = "0.0.0.0:10249";
  // MetalLB's layer-2 mode answers ARP for service IPs, which kube-proxy's IPVS dummy interface must not.
  if (model.kubernetes.kubeProxyMode === "ipvs" && model.addons.metallb.enabled) doc.ipvs = { strictARP: true };
  if (Object.keys(model.kubernetes.featureGates).length > 0) doc.featureGates = { ...model.kubernetes.featureGates };
  // cluster:kubernetes.kubeProxyExtraConfig is merged last: the user's settings win.
  return deepMerge(doc, model.kubernetes.kubeProxyExtraConfig);
}

/** The taints a node registers with: the control-plane taint unless it also runs workloads, then the host's own. */
export function nodeTaints(host: HostModel): Array<{ key: string; value?: string; effect: string }> {
  const taints: Array<{ key: string; value?: string; effect: string }> = [];
  if (host.isControlPlane && !host.isWorker) taints.push({ ...CONTROL_PLANE_TAINT });
  for (const t of host.taints) taints.push(t.value === undefined ? { key: t.key, effect: t.effect } : { key: t.key, value: t.value, effect: t.effect });
  return taints;
}

/**
 * The preflight checks kubeadm must not stop on. On a cgroup v1 host kubeadm's SystemVerification
 * is an error for kubelets from 1.35 (and for upgrades to them) even with failCgroupV1: false, so
 * cluster:kubernetes.allowCgroupV1 turns it off; that check also covers the kernel version and cgroup
 * controllers, which the program's own preflight (os-prep) checks instead.
 */
export function ignoredPreflightErrors(model: ClusterModel): string[] {
  return model.kubernetes.allowCgroupV1 ? ["SystemVerification"] : [];
}

/** `kubeadm upgrade`'s flag for the same checks ("" when none). */
export function ignorePreflightFlag(model: ClusterModel): string {
  const ignored = ignoredPreflightErrors(model);
  return ignored.length > 0 ? ` --ignore-preflight-errors=${ignored.join(",")}` : "";
}

function nodeRegistration(model: ClusterModel, host: HostModel): Doc {
  const doc: Doc = {
    name: host.name,
    criSocket: model.runtime.criSocket,
    imagePullPolicy: "IfNotPresent",
    // An explicit list, so kubeadm adds no default taint of its own.
    taints: nodeTaints(host),
    kubeletExtraArgs: extraArgs(model.kubernetes.kubeadmApiVersion, { "node-ip": host.internalAddress }),
  };
  const ignored = ignoredPreflightErrors(model);
  if (ignored.length > 0) doc.ignorePreflightErrors = ignored;
  return doc;
}

function localAPIEndpoint(model: ClusterModel, host: HostModel): Doc {
  return { advertiseAddress: host.internalAddress, bindPort: model.kubernetes.apiServerPort };
}

/** InitConfiguration without secrets: the init script adds the bootstrap token and certificate key. */
export function initConfiguration(model: ClusterModel, host: HostModel): Doc {
  return {
    apiVersion: model.kubernetes.kubeadmApiVersion,
    kind: "InitConfiguration",
    localAPIEndpoint: localAPIEndpoint(model, host),
    nodeRegistration: nodeRegistration(model, host),
  };
}

/** The lines the init script inserts after "kind: InitConfiguration" (same in v1beta3 and v1beta4). */
export function initSecretsBlock(): string {
  return stringify(
    {
      bootstrapTokens: [
        {
          token: SECRET_PLACEHOLDERS.bootstrap_token,
          description: "kubeadm-on-pulumi join token",
          ttl: BOOTSTRAP_TOKEN_TTL,
          groups: [BOOTSTRAP_TOKEN_GROUP],
          usages: ["signing", "authentication"],
        },
      ],
      certificateKey: SECRET_PLACEHOLDERS.certificate_key,
    },
    { lineWidth: 0 },
  );
}

export function joinConfiguration(model: ClusterModel, host: HostModel): Doc {
  const doc: Doc = {
    apiVersion: model.kubernetes.kubeadmApiVersion,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: controlPlaneEndpoint(model),
        token: SECRET_PLACEHOLDERS.bootstrap_token,
        caCertHashes: [SECRET_PLACEHOLDERS.ca_cert_hash],
      },
    },
    nodeRegistration: nodeRegistration(model, host),
  };
  if (host.isControlPlane) {
    doc.controlPlane = { localAPIEndpoint: localAPIEndpoint(model, host), certificateKey: SECRET_PLACEHOLDERS.certificate_key };
  }
  return doc;
}

export function renderDocuments(docs: Doc[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

/**
 * A control plane's kubeadm.yaml: its InitConfiguration (node registration only), the cluster's
 * ClusterConfiguration, KubeletConfiguration and KubeProxyConfiguration. On the first control
 * plane it drives `kubeadm init` (with the secrets added at run time); on every control plane it
 * drives image pre-pulls and configuration uploads during upgrades.
 */
export function renderControlPlaneConfig(model: ClusterModel, host: HostModel, external: ExternalEtcd | undefined): string {
  return renderDocuments([initConfiguration(model, host), clusterConfiguration(model, external), kubeletConfiguration(model), kubeProxyConfiguration(model)]);
}

/** A joining node's join.yaml, with secret placeholders. */
export function renderJoinConfig(model: ClusterModel, host: HostModel): string {
  return renderDocuments([joinConfiguration(model, host)]);
}

function digest(parts: string[]): string {
  return createHash("sha256").update(parts.join("\n---\n")).digest("hex");
}

/**
 * What each node's upgrade step converges to, as a digest. A change re-runs the ordered upgrade
 * steps: the first control plane re-applies everything (version, images, component flags, kubelet
 * and kube-proxy configuration); the other control planes re-render their static pods and kubelet
 * configuration; workers only follow the version and kubelet configuration. certSANs are left out:
 * adding a control plane must not restart every API server (joining control planes get their own
 * address in their certificate, and the stored configuration is refreshed before each join).
 */
export function convergeDigest(model: ClusterModel, role: "first-control-plane" | "control-plane" | "worker", external: ExternalEtcd | undefined): string {
  // The same for every node of a role: computed once per model and role (1000 workers would
  // otherwise render the configuration 1000 times).
  const cached = convergeDigestCache.get(model)?.get(role);
  if (cached !== undefined) return cached;
  const kubelet = stringify(kubeletConfiguration(model));
  let value: string;
  if (role === "worker") value = digest([model.kubernetes.version, kubelet]);
  else {
    const cluster = stringify(clusterConfiguration(model, external, { withCertSANs: false }));
    value = role === "first-control-plane" ? digest([cluster, kubelet, stringify(kubeProxyConfiguration(model))]) : digest([cluster, kubelet]);
  }
  if (!convergeDigestCache.has(model)) convergeDigestCache.set(model, new Map());
  convergeDigestCache.get(model)!.set(role, value);
  return value;
}

const convergeDigestCache = new WeakMap<ClusterModel, Map<string, string>>();
