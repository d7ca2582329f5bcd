import { z } from "zod";
import { cidr, hostOrAddress, isDnsName, port, semver } from "./fields";

/**
 * Kubernetes minors this program renders kubeadm configuration for: the minors upstream supports,
 * and the older ones a cluster made with them is upgraded from, one minor at a time.
 */
export const SUPPORTED_MINORS = { min: 28, max: 37 } as const;
/** The newest release the rendered configuration is validated against (kubeadm 1.37's own types). */
export const NEWEST_RELEASE = "1.37.2";
/** From this minor the kubelet refuses a cgroup v1 host unless failCgroupV1 is false. */
export const CGROUP_V2_REQUIRED_FROM = 35;
/** From this minor kube-proxy's nftables mode is beta (on by default); it is GA in 1.33. */
export const NFTABLES_FROM = 31;

export const kubernetesSchema = z.strictObject({
  /** Exact version of kubeadm, kubelet, kubectl and the control-plane images, e.g. "1.29.13". */
  version: semver(),
  /** Debian package revision from the per-minor repository ("1.1" in 1.29.13-1.1). */
  packageRevision: z.string().regex(/^[0-9][0-9a-z.+~]*$/, "is not a Debian revision like 1.1").default("1.1"),
  podSubnet: cidr().default("10.244.0.0/16"),
  serviceSubnet: cidr().default("10.96.0.0/12"),
  /** Networks the hosts live in; pod and service networks must not overlap them. Host addresses are always checked too. */
  nodeSubnets: z.array(cidr()).default([]),
  dnsDomain: z
    .string()
    .refine(isDnsName, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not a DNS domain: write dot-separated labels of lower-case letters, digits and '-', none empty, like cluster.local`,
    })
    .default("cluster.local"),
  /** kube-proxy mode; nftables needs Kubernetes 1.31+ and a 5.13+ kernel; ipvs is deprecated upstream from 1.35. */
  kubeProxyMode: z.enum(["iptables", "ipvs", "nftables"]).default("iptables"),
  /**
   * Run the kubelet on a cgroup v1 host from 1.35 on (kubelet failCgroupV1: false, and kubeadm's
   * SystemVerification preflight skipped, which refuses cgroup v1 regardless). Without it, preflight
   * stops on a cgroup v1 host before anything is installed. cgroup v1 is deprecated upstream.
   */
  allowCgroupV1: z.boolean().default(false),
  /** Port the API server binds on every control plane. */
  apiServerPort: port().default(6443),
  /** Extra names/addresses for the API server certificate (endpoint, VIP and control-plane addresses are always added). */
  certSANs: z.array(hostOrAddress()).default([]),
  featureGates: z.record(z.string().regex(/^[A-Z][A-Za-z0-9]+$/, "is not a feature gate name"), z.boolean()).default({}),
  apiServerExtraArgs: z.record(z.string(), z.string()).default({}),
  controllerManagerExtraArgs: z.record(z.string(), z.string()).default({}),
  schedulerExtraArgs: z.record(z.string(), z.string()).default({}),
  kubeletExtraConfig: z.record(z.string(), z.unknown()).default({}),
  /**
   * Merged into the KubeProxyConfiguration, e.g. { conntrack: { maxPerCore: 0 } } on hosts that are
   * containers (LXC, systemd-nspawn), where kube-proxy cannot write nf_conntrack_max.
   */
  kubeProxyExtraConfig: z.record(z.string(), z.unknown()).default({}),
});

export const endpointSchema = z.strictObject({
  /** DNS name or address clients use for the API (kubeadm controlPlaneEndpoint). Defaults to the VIP, or the only control plane. */
  host: hostOrAddress().optional(),
  /** Defaults to the load balancer's frontend port, else the API server port. */
  port: port().optional(),
});

export type KubernetesInput = z.output<typeof kubernetesSchema>;
