import { z } from "zod";
import { closest, ConfigError, configKey, nameHosts, ProblemList, type ConfigProblem } from "./errors";
import type { Role, SshInput, HostInput } from "./hosts";
import type { KubernetesInput } from "./kubernetes";
import { etcdVersionFor } from "./etcd";
import { containerdConfigVersion, containerdSource, type ContainerdSource } from "./runtime";
import { isIPv4, nthAddress, parseCidr } from "./net";
import { stackConfigSchema, type StackConfig } from "./schema";
import { checkCrossFieldRules } from "./validate";

export interface HostModel {
  name: string;
  /** Where SSH connects. */
  address: string;
  /** The node's cluster-facing IPv4 address. */
  internalAddress: string;
  roles: Role[];
  labels: Record<string, string>;
  taints: HostInput["taints"];
  ssh: SshInput;
  isControlPlane: boolean;
  isWorker: boolean;
  isEtcd: boolean;
  isLoadBalancer: boolean;
  /** A Kubernetes node (control plane or worker). */
  isNode: boolean;
}

export interface ClusterModel {
  name: string;
  kubernetes: KubernetesInput & {
    minor: number;
    /** Repository path segment, "v1.29". */
    minorTag: string;
    /** Package version to pin: apt's "1.29.13-1.1"; the rpm version "1.29.13" on the RHEL family (releases differ per build). */
    packageVersion: string;
    kubeadmApiVersion: "kubeadm.k8s.io/v1beta3" | "kubeadm.k8s.io/v1beta4";
    clusterDns: string;
  };
  endpoint: {
    host: string;
    port: number;
    /** IPv4 the endpoint resolves to, written to /etc/hosts when `host` is a name. */
    address: string;
    isName: boolean;
  };
  hosts: HostModel[];
  controlPlanes: HostModel[];
  workers: HostModel[];
  /** External etcd members (empty with stacked etcd). */
  etcdMembers: HostModel[];
  /** Hosts that run HAProxy + keepalived. */
  loadBalancers: HostModel[];
  nodes: HostModel[];
  runtime: Omit<StackConfig["runtime"], "containerd"> & {
    criSocket: string;
    containerd: Omit<StackConfig["runtime"]["containerd"], "source"> & {
      source: ContainerdSource;
      /** config.toml schema: 3 for containerd 2 (release files, or a containerd.io 2.x pin); 2 otherwise, which 1.6, 1.7 and 2.x all read. */
      configVersion: 2 | 3;
    };
  };
  mirrors: StackConfig["mirrors"] & { sandboxImage: string };
  loadBalancer: StackConfig["loadBalancer"] & { enabled: boolean; port: number };
  /** version: the configured one, or the etcd the Kubernetes minor's kubeadm runs (etcdVersionFor). */
  etcd: StackConfig["etcd"] & { version: string };
  addons: StackConfig["addons"];
  lifecycle: StackConfig["lifecycle"];
  os: StackConfig["os"] & { selinux: "permissive" | "enforcing" | "leave"; firewalld: "open" | "leave" };
  /** The secret SSH key is configured (its value stays in Pulumi config). */
  hasSshPrivateKey: boolean;
}

/** Pause image tag kubeadm expects for each minor (cmd/kubeadm/app/constants PauseVersion). */
export function pauseTag(minor: number): string {
  if (minor <= 30) return "3.9";
  if (minor <= 33) return "3.10";
  if (minor <= 35) return "3.10.1";
  return "3.10.2";
}


export interface ParseOptions {
  /** Default cluster name (the stack name). */
  stackName: string;
  /** Fail when no SSH key is configured (true for real deployments; render needs none). */
  requireSshKey?: boolean;
}

/**
 * Turns the `cluster:` config of a stack (namespace already stripped) into a validated,
 * defaulted model. Every problem is reported in one ConfigError.
 */
export function parseClusterConfig(raw: unknown, opts: ParseOptions): ClusterModel {
  const hosts = (raw as { hosts?: unknown } | null)?.hosts;
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(nameHosts(parsed.error.issues.flatMap(describeIssue), hosts));
  const cfg = parsed.data;
  const problems = new ProblemList();
  checkCrossFieldRules(cfg, problems, { requireSshKey: opts.requireSshKey ?? false });
  if (problems.problems.length > 0) throw new ConfigError(nameHosts(problems.problems, hosts));
  return buildModel(cfg, opts.stackName);
}

function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((key) => {
      const hint = closest(key, known);
      return {
        key: configKey([...issue.path, key]),
        message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ""}`,
      };
    });
  }
  let message = issue.message;
  if (issue.code === "invalid_type" && message.startsWith("Invalid input: expected")) {
    message = message.replace("Invalid input: expected", "expected").replace("received undefined", "it is missing");
  }
  if (issue.code === "invalid_value" && "values" in issue) {
    message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return [{ key: configKey(issue.path), message }];
}

/** The keys the schema allows at a path, for "did you mean" hints. */
function knownKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  let schema: z.core.$ZodType = stackConfigSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const def = schema._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (typeof segment === "number" && def.type === "array" && def.element) schema = def.element;
    else if (def.type === "object" && def.shape && typeof segment === "string" && def.shape[segment]) schema = def.shape[segment];
    else return [];
  }
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, unknown> };
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: z.core.$ZodType };
    if (["default", "prefault", "optional", "nullable", "readonly", "catch"].includes(def.type) && def.innerType) current = def.innerType;
    else return current;
  }
}

function buildModel(cfg: StackConfig, stackName: string): ClusterModel {
  const hosts: HostModel[] = cfg.hosts.map((h) => {
    const has = (role: Role) => h.roles.includes(role);
    return {
      name: h.name,
      address: h.address,
      internalAddress: h.internalAddress ?? h.address,
      roles: h.roles,
      labels: h.labels,
      taints: h.taints,
      ssh: { ...cfg.ssh, ...definedOnly(h.ssh ?? {}) },
      isControlPlane: has("control-plane"),
      isWorker: has("worker"),
      isEtcd: has("etcd"),
      isLoadBalancer: has("load-balancer"),
      isNode: has("control-plane") || has("worker"),
    };
  });
  const controlPlanes = hosts.filter((h) => h.isControlPlane);
  const minor = Number(cfg.kubernetes.version.split(".")[1]);
  const service = parseCidr(cfg.kubernetes.serviceSubnet)!;
  const lb = cfg.loadBalancer;
  const lbEnabled = lb.mode !== "none";
  const lbPort = lb.port ?? (lb.mode === "colocated" ? 8443 : 6443);
  const endpointHost = cfg.controlPlaneEndpoint.host ?? lb.vip ?? controlPlanes[0].internalAddress;
  const endpointAddress = lb.vip ?? (isIPv4(endpointHost) ? endpointHost : controlPlanes[0].internalAddress);
  const loadBalancers = lb.mode === "dedicated" ? hosts.filter((h) => h.isLoadBalancer) : lb.mode === "colocated" ? controlPlanes : [];

  return {
    name: cfg.name ?? stackName,
    kubernetes: {
      ...cfg.kubernetes,
      minor,
      minorTag: `v1.${minor}`,
      packageVersion: cfg.os.family === "rhel" ? cfg.kubernetes.version : `${cfg.kubernetes.version}-${cfg.kubernetes.packageRevision}`,
      kubeadmApiVersion: minor <= 30 ? "kubeadm.k8s.io/v1beta3" : "kubeadm.k8s.io/v1beta4",
      clusterDns: nthAddress(service, 10),
    },
    endpoint: {
      host: endpointHost,
      port: cfg.controlPlaneEndpoint.port ?? (lbEnabled ? lbPort : cfg.kubernetes.apiServerPort),
      address: endpointAddress,
      isName: !isIPv4(endpointHost),
    },
    hosts,
    controlPlanes,
    workers: hosts.filter((h) => h.isWorker && !h.isControlPlane),
    etcdMembers: cfg.etcd.topology === "external" ? hosts.filter((h) => h.isEtcd) : [],
    loadBalancers,
    nodes: hosts.filter((h) => h.isNode),
    runtime: {
      ...cfg.runtime,
      containerd: {
        ...cfg.runtime.containerd,
        source: containerdSource(cfg.runtime.containerd.source, minor),
        configVersion: containerdConfigVersion(containerdSource(cfg.runtime.containerd.source, minor), cfg.runtime.containerd.packageVersion),
      },
      criSocket: cfg.runtime.kind === "docker" ? "unix:///run/cri-dockerd.sock" : "unix:///run/containerd/containerd.sock",
    },
    mirrors: {
      ...cfg.mirrors,
      sandboxImage: cfg.mirrors.sandboxImage ?? `${cfg.mirrors.imageRepository}/pause:${pauseTag(minor)}`,
    },
    loadBalancer: { ...lb, enabled: lbEnabled, port: lbPort },
    etcd: { ...cfg.etcd, version: cfg.etcd.version ?? etcdVersionFor(minor) },
    addons: cfg.addons,
    lifecycle: cfg.lifecycle,
    os: { ...cfg.os, selinux: cfg.os.selinux ?? "permissive", firewalld: cfg.os.firewalld ?? "open" },
    hasSshPrivateKey: cfg.sshPrivateKey !== undefined,
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
