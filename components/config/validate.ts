import { ProblemList } from "./errors";
import { quantityBytes } from "../addons/quantity";
import { contains, isIPv4, overlaps, parseCidr, toNumber, type Cidr } from "./net";
import type { StackConfig } from "./schema";
import { NEWEST_RELEASE, NFTABLES_FROM, SUPPORTED_MINORS } from "./kubernetes";
import { checkOsFamilyRules } from "./os-family";
import { CONTAINERD_2_REQUIRED_FROM, containerdSource } from "./runtime";

export const ETCD_MEMBER_COUNTS = [1, 3, 5, 7];

const quorumExplanation = (n: number) =>
  `etcd needs a majority (n/2+1) of its members to work, so ${n} members tolerate ${Math.floor((n - 1) / 2)} failure(s), ` +
  `no more than ${n - 1} would, while adding one more machine that can fail; use 1, 3, 5 or 7`;

/** Rules that span several keys. Schema-level problems (types, unknown keys) are found before this runs. */
export function checkCrossFieldRules(cfg: StackConfig, problems: ProblemList, opts: { requireSshKey: boolean }): void {
  const { hosts } = cfg;
  const withRole = (role: string) => hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.roles.includes(role as never));
  const controlPlanes = withRole("control-plane");
  const etcdHosts = withRole("etcd");
  const balancers = withRole("load-balancer");

  // Hosts: unique names and addresses, a control plane exists, roles make sense.
  const seenNames = new Map<string, number>();
  const seenAddresses = new Map<string, number>();
  hosts.forEach((h, i) => {
    const firstName = seenNames.get(h.name);
    if (firstName !== undefined) problems.add(["hosts", i, "name"], `"${h.name}" is already the name of hosts[${firstName}]`);
    else seenNames.set(h.name, i);
    const addresses = new Set([h.address, h.internalAddress].filter((a): a is string => a !== undefined));
    for (const address of addresses) {
      const first = seenAddresses.get(address);
      const key = address === h.address ? "address" : "internalAddress";
      if (first !== undefined && first !== i) problems.add(["hosts", i, key], `"${address}" is already the address of hosts[${first}]`);
      else seenAddresses.set(address, i);
    }
    if (!isIPv4(h.address) && h.internalAddress === undefined) {
      problems.add(["hosts", i, "internalAddress"], `required because address "${h.address}" is a DNS name: cluster members talk over IPv4 addresses`);
    }
    if (new Set(h.roles).size !== h.roles.length) problems.add(["hosts", i, "roles"], "lists a role twice");
    const isNode = h.roles.includes("control-plane") || h.roles.includes("worker");
    if (!isNode && (Object.keys(h.labels).length > 0 || h.taints.length > 0)) {
      problems.add(["hosts", i], "labels and taints apply to Kubernetes nodes only; this host has neither the control-plane nor the worker role");
    }
    if (opts.requireSshKey && !cfg.sshPrivateKey && !cfg.ssh.privateKeyPath && !h.ssh?.privateKeyPath) {
      problems.add(["hosts", i, "ssh", "privateKeyPath"], "no SSH key: set cluster:sshPrivateKey (secret), cluster:ssh.privateKeyPath or this key");
    }
  });
  if (controlPlanes.length === 0) {
    problems.add(["hosts"], "no host has the control-plane role: a cluster needs at least one (a worker-only cluster cannot be bootstrapped)");
  }

  // Kubernetes version.
  const [major, minor] = cfg.kubernetes.version.split(".").map(Number);
  if (major === 1 && minor > SUPPORTED_MINORS.max) {
    problems.add(
      ["kubernetes", "version"],
      `${cfg.kubernetes.version} is newer than the newest supported release ${NEWEST_RELEASE}: use ${NEWEST_RELEASE} (supported: 1.${SUPPORTED_MINORS.min}.0 - 1.${SUPPORTED_MINORS.max}.x)`,
    );
  } else if (major !== 1 || minor < SUPPORTED_MINORS.min) {
    problems.add(
      ["kubernetes", "version"],
      `${cfg.kubernetes.version} is outside the supported range 1.${SUPPORTED_MINORS.min}.0 - 1.${SUPPORTED_MINORS.max}.x`,
    );
  }
  if (cfg.kubernetes.kubeProxyMode === "nftables" && major === 1 && minor < NFTABLES_FROM) {
    problems.add(
      ["kubernetes", "kubeProxyMode"],
      `nftables needs Kubernetes 1.${NFTABLES_FROM} or newer (it is alpha behind a feature gate before); ${cfg.kubernetes.version} can use iptables or ipvs`,
    );
  }

  // containerd: 1.x is supported up to Kubernetes 1.35; the release files are containerd 2.
  const containerd = cfg.runtime.containerd;
  if (cfg.runtime.kind === "containerd" && major === 1 && minor >= CONTAINERD_2_REQUIRED_FROM) {
    if (containerd.source === "distro") {
      problems.add(
        ["runtime", "containerd", "source"],
        `Kubernetes ${cfg.kubernetes.version} needs containerd 2 (1.35 is the last minor that supports containerd 1.x, which the distributions ship): use release or docker-ce`,
      );
    }
    if (containerd.source === "docker-ce" && containerd.packageVersion && Number(containerd.packageVersion.split(".")[0]) < 2) {
      problems.add(
        ["runtime", "containerd", "packageVersion"],
        `${containerd.packageVersion} is containerd 1.x, which Kubernetes ${cfg.kubernetes.version} does not support: pin a 2.x containerd.io or leave it unset`,
      );
    }
  }
  if (containerdSource(containerd.source, minor) === "release" && Number(containerd.version.split(".")[0]) < 2) {
    problems.add(["runtime", "containerd", "version"], `${containerd.version} is not containerd 2: the release files are installed for 2.x; containerd 1.7 comes from the distribution (source distro)`);
  }

  // Networks: pod, service and host networks must be disjoint.
  const pod = parseCidr(cfg.kubernetes.podSubnet);
  const service = parseCidr(cfg.kubernetes.serviceSubnet);
  if (pod && service && overlaps(pod, service)) {
    problems.add(["kubernetes", "serviceSubnet"], `${service.text} overlaps the pod network ${pod.text}`);
  }
  if (service && service.prefix > 28) {
    problems.add(["kubernetes", "serviceSubnet"], `${service.text} is too small: the cluster DNS service takes its 10th address`);
  }
  if (pod) checkPodSubnetCapacity(cfg, pod, problems);
  const clusterNets: Array<[string, Cidr | undefined]> = [
    ["podSubnet", pod],
    ["serviceSubnet", service],
  ];
  cfg.kubernetes.nodeSubnets.forEach((text, i) => {
    const nodeNet = parseCidr(text);
    for (const [key, net] of clusterNets) {
      if (nodeNet && net && overlaps(nodeNet, net)) {
        problems.add(["kubernetes", "nodeSubnets", i], `${text} overlaps the ${key === "podSubnet" ? "pod" : "service"} network ${net.text}`);
      }
    }
  });
  hosts.forEach((h, i) => {
    for (const [key, address] of [["address", h.address], ["internalAddress", h.internalAddress]] as const) {
      if (!address || !isIPv4(address)) continue;
      for (const [netKey, net] of clusterNets) {
        if (net && contains(net, address)) {
          problems.add(["hosts", i, key], `${address} lies inside cluster:kubernetes.${netKey} ${net.text}; host, pod and service networks must not overlap`);
        }
      }
    }
  });

  // etcd topology and member counts.
  if (cfg.etcd.topology === "stacked") {
    etcdHosts.forEach(({ i }) =>
      problems.add(["hosts", i, "roles"], 'the etcd role needs cluster:etcd.topology "external"; with stacked etcd the control planes run it'),
    );
    if (controlPlanes.length > 1 && !ETCD_MEMBER_COUNTS.includes(controlPlanes.length)) {
      problems.add(["hosts"], `${controlPlanes.length} control planes with stacked etcd: ${quorumExplanation(controlPlanes.length)}`);
    }
  } else {
    if (etcdHosts.length === 0) {
      problems.add(["etcd", "topology"], 'is "external" but no host has the etcd role');
    } else if (!ETCD_MEMBER_COUNTS.includes(etcdHosts.length)) {
      problems.add(["hosts"], `${etcdHosts.length} hosts have the etcd role: ${quorumExplanation(etcdHosts.length)}`);
    }
  }
  if (cfg.etcd.clientPort === cfg.etcd.peerPort) problems.add(["etcd", "peerPort"], "must differ from cluster:etcd.clientPort");
  if (cfg.etcd.topology === "external") checkExternalEtcd(cfg.etcd, problems);

  // Load balancer and endpoint.
  const lb = cfg.loadBalancer;
  const endpoint = cfg.controlPlaneEndpoint;
  const lbPort = lb.port ?? (lb.mode === "colocated" ? 8443 : 6443);
  if (lb.mode === "none") {
    balancers.forEach(({ i }) => problems.add(["hosts", i, "roles"], 'the load-balancer role needs cluster:loadBalancer.mode "dedicated"'));
    if (lb.vip !== undefined) problems.add(["loadBalancer", "vip"], 'is set but cluster:loadBalancer.mode is "none"; set the mode to dedicated or colocated');
  } else {
    if (lb.vip === undefined) problems.add(["loadBalancer", "vip"], `required when cluster:loadBalancer.mode is "${lb.mode}"`);
    if (lb.mode === "dedicated") {
      if (balancers.length < 2) {
        problems.add(["hosts"], `cluster:loadBalancer.mode "dedicated" needs at least 2 hosts with the load-balancer role (found ${balancers.length}); one balancer is a single point of failure`);
      }
      balancers.forEach(({ h, i }) => {
        if (h.roles.includes("control-plane")) {
          problems.add(["hosts", i, "roles"], 'a dedicated load balancer cannot also be a control plane; use cluster:loadBalancer.mode "colocated" instead');
        }
      });
    } else {
      balancers.forEach(({ i }) => problems.add(["hosts", i, "roles"], 'the load-balancer role is for mode "dedicated"; in mode "colocated" the control planes balance'));
      if (controlPlanes.length < 2) problems.add(["loadBalancer", "mode"], '"colocated" needs at least 2 control planes to move the VIP between');
      if (lbPort === cfg.kubernetes.apiServerPort) {
        problems.add(["loadBalancer", "port"], `${lbPort} is the API server's own port on the control planes; a colocated HAProxy needs another one (e.g. 8443)`);
      }
    }
    const localPorts: Array<[string[], number, string]> = [
      [["loadBalancer", "healthCheckPort"], lb.healthCheckPort, "cluster:loadBalancer.healthCheckPort"],
      ...(lb.stats.enabled ? [[["loadBalancer", "stats", "port"], lb.stats.port, "cluster:loadBalancer.stats.port"] as [string[], number, string]] : []),
    ];
    const taken = new Map<number, string>([[lbPort, lb.port === undefined ? `the frontend port (default ${lbPort})` : "cluster:loadBalancer.port"]]);
    for (const [path, value, name] of localPorts) {
      const first = taken.get(value);
      if (first !== undefined) problems.add(path, `${value} is already ${first}; HAProxy cannot bind one port twice`);
      else taken.set(value, name);
      if (lb.mode === "colocated" && controlPlaneServicePorts(cfg).has(value)) {
        problems.add(path, `${value} is used by ${controlPlaneServicePorts(cfg).get(value)} on the control planes, which run HAProxy in mode "colocated"`);
      }
    }
    if (endpoint.port !== undefined && endpoint.port !== lbPort) {
      problems.add(
        ["controlPlaneEndpoint", "port"],
        `${endpoint.port} differs from the load balancer's frontend port ${lbPort}; clients reach the API through HAProxy, so set cluster:loadBalancer.port instead`,
      );
    }
    if (lb.vip !== undefined) {
      const owner = hosts.findIndex((h) => h.address === lb.vip || h.internalAddress === lb.vip);
      if (owner >= 0) problems.add(["loadBalancer", "vip"], `${lb.vip} is the address of hosts[${owner}]; the VIP must be a free address`);
      for (const [netKey, net] of clusterNets) {
        if (net && contains(net, lb.vip)) problems.add(["loadBalancer", "vip"], `${lb.vip} lies inside cluster:kubernetes.${netKey} ${net.text}`);
      }
    }
  }
  if (controlPlanes.length > 1 && endpoint.host === undefined && lb.vip === undefined) {
    problems.add(
      ["controlPlaneEndpoint", "host"],
      `required with ${controlPlanes.length} control planes: joins and clients need one address that survives the loss of a control plane (or set cluster:loadBalancer)`,
    );
  }
  if (endpoint.host !== undefined && isIPv4(endpoint.host) && lb.vip !== undefined && endpoint.host !== lb.vip) {
    problems.add(["controlPlaneEndpoint", "host"], `${endpoint.host} is an address other than the VIP ${lb.vip}; use the VIP or a DNS name that resolves to it`);
  }

  // Add-ons.
  checkAddonRules(cfg, problems);
  checkOsFamilyRules(cfg, problems);
}

/** kube-controller-manager's default per-node pod range for IPv4 (--node-cidr-mask-size). */
export const DEFAULT_NODE_CIDR_MASK = 24;

/** kube-controller-manager gives every node its own slice of the pod network: there must be one for each node. */
function checkPodSubnetCapacity(cfg: StackConfig, pod: Cidr, problems: ProblemList): void {
  const args = cfg.kubernetes.controllerManagerExtraArgs;
  const argName = ["node-cidr-mask-size-ipv4", "node-cidr-mask-size"].find((k) => args[k] !== undefined);
  let mask = DEFAULT_NODE_CIDR_MASK;
  if (argName) {
    mask = Number(args[argName]);
    if (!Number.isInteger(mask) || mask < 1 || mask > 32) {
      problems.add(["kubernetes", "controllerManagerExtraArgs", argName], `${JSON.stringify(args[argName])} is not a prefix length (1-32)`);
      return;
    }
  }
  const nodes = cfg.hosts.filter((h) => h.roles.includes("control-plane") || h.roles.includes("worker")).length;
  const capacity = mask >= pod.prefix ? 2 ** (mask - pod.prefix) : 0;
  if (nodes <= capacity) return;
  const maskSource = argName ? `cluster:kubernetes.controllerManagerExtraArgs.${argName}` : "node-cidr-mask-size";
  const needed = Math.max(mask - Math.ceil(Math.log2(nodes)), 0);
  problems.add(
    ["kubernetes", "podSubnet"],
    `${pod.text} has room for ${capacity} node range${capacity === 1 ? "" : "s"} but the cluster has ${nodes} nodes: ` +
      `kube-controller-manager gives each node a /${mask} of the pod network (${maskSource}); ` +
      `use a pod network of /${needed} or larger${needed >= 16 ? ", such as 10.244.0.0/16" : ""}`,
  );
}

/** Add-on rules: settings that only make sense together, and values the add-ons cannot work with. */
function checkAddonRules(cfg: StackConfig, problems: ProblemList): void {
  const addons = cfg.addons;
  const pod = parseCidr(cfg.kubernetes.podSubnet);
  const service = parseCidr(cfg.kubernetes.serviceSubnet);

  if (addons.metallb.enabled && addons.metallb.addresses.length === 0) {
    problems.add(["addons", "metallb", "addresses"], "list at least one address range when MetalLB is enabled");
  }
  const taken = new Map<string, string>();
  cfg.hosts.forEach((h, i) => [h.address, h.internalAddress].forEach((a) => a && isIPv4(a) && taken.set(a, `the address of hosts[${i}]`)));
  if (cfg.loadBalancer.vip) taken.set(cfg.loadBalancer.vip, "the control-plane VIP");
  addons.metallb.addresses.forEach((text, i) => {
    const range = addressRange(text);
    if (!range) return problems.add(["addons", "metallb", "addresses", i], `${text}: the first address is above the last`);
    for (const [what, net] of [["pod network", pod], ["service network", service]] as const) {
      if (net && range.first <= net.last && net.first <= range.last) {
        problems.add(["addons", "metallb", "addresses", i], `${text} overlaps the ${what} ${net.text}`);
      }
    }
    for (const [address, owner] of taken) {
      const n = toNumber(address);
      if (n >= range.first && n <= range.last) problems.add(["addons", "metallb", "addresses", i], `${text} contains ${address}, ${owner}`);
    }
  });

  const gateway = addons.gateway;
  if (gateway.enabled && gateway.mode === "loadBalancer" && !addons.metallb.enabled) {
    problems.add(["addons", "gateway", "mode"], '"loadBalancer" needs a load-balancer implementation on bare metal: enable cluster:addons.metallb');
  }
  if (gateway.enabled && gateway.mode === "hostNetwork") {
    const matches = cfg.hosts.filter((h) => {
      const isNode = h.roles.includes("control-plane") || h.roles.includes("worker");
      const labels: Record<string, string> = { "kubernetes.io/hostname": h.name, "kubernetes.io/os": "linux", ...h.labels };
      if (h.roles.includes("control-plane")) labels["node-role.kubernetes.io/control-plane"] = "";
      return isNode && Object.entries(gateway.nodeSelector).every(([k, v]) => labels[k] === v);
    });
    if (matches.length === 0) {
      problems.add(["addons", "gateway", "nodeSelector"], "matches no node: set the same labels on the hosts that should serve ingress traffic (cluster:hosts[].labels)");
    }
  }
  // Published UIs are HTTPRoutes attached to the gateway add-on's Gateway: without it nothing serves them.
  const routes: Array<[string[], string | undefined]> = [
    [["logging", "kibana", "ingressHost"], addons.logging.enabled ? addons.logging.kibana.ingressHost : undefined],
    [["monitoring", "grafana", "ingressHost"], addons.monitoring.enabled ? addons.monitoring.grafana.ingressHost : undefined],
  ];
  for (const [key, host] of routes) {
    if (host !== undefined && !gateway.enabled) {
      problems.add(["addons", ...key], `${host} is published as an HTTPRoute on the gateway add-on's Gateway: enable cluster:addons.gateway, or remove this key`);
    }
  }

  if (addons.storage.provisioner === "nfs") {
    if (!addons.storage.nfs.server) problems.add(["addons", "storage", "nfs", "server"], 'required when cluster:addons.storage.provisioner is "nfs"');
    if (!addons.storage.nfs.path) problems.add(["addons", "storage", "nfs", "path"], 'required when cluster:addons.storage.provisioner is "nfs"');
  }
  const needsVolumes = addons.logging.enabled || addons.monitoring.enabled;
  if (needsVolumes && addons.storage.provisioner === "none") {
    const explicit = addons.logging.elasticsearch.storageClass ?? addons.monitoring.prometheus.storageClass;
    if (explicit === undefined) {
      problems.add(["addons", "storage", "provisioner"], '"none" leaves the logging/monitoring volumes unbound: choose local-path or nfs, or name an existing storageClass');
    }
  }

  if (addons.logging.enabled) {
    const limit = quantityBytes(addons.logging.elasticsearch.memoryLimit);
    if (limit < 2 ** 30) {
      problems.add(["addons", "logging", "elasticsearch", "memoryLimit"], `${addons.logging.elasticsearch.memoryLimit} is too little: Elasticsearch gets half as heap and needs at least 512Mi of it (use 1Gi or more)`);
    }
  }

  // The mode and pod network have keys of their own, which other steps and add-ons read too.
  for (const [key, own] of [["mode", "kubeProxyMode"], ["clusterCIDR", "podSubnet"]] as const) {
    if (key in cfg.kubernetes.kubeProxyExtraConfig) {
      problems.add(["kubernetes", "kubeProxyExtraConfig", key], `is set here; set cluster:kubernetes.${own} instead, which the rest of the cluster follows`);
    }
  }

  // Kubelets get CA-signed serving certificates (approved by the CSR approver add-on) unless the user opts out.
  if (!addons.metricsServer.kubeletInsecureTls && cfg.kubernetes.kubeletExtraConfig.serverTLSBootstrap === false) {
    problems.add(
      ["addons", "metricsServer", "kubeletInsecureTls"],
      "is false, so metrics-server and Prometheus verify kubelet serving certificates, but cluster:kubernetes.kubeletExtraConfig.serverTLSBootstrap: false keeps them self-signed: remove that setting or opt in to kubeletInsecureTls: true",
    );
  }

  if (addons.cni.plugin === "calico" && pod && addons.cni.calico.blockSize < pod.prefix) {
    problems.add(["addons", "cni", "calico", "blockSize"], `/${addons.cni.calico.blockSize} blocks do not fit in the pod network ${pod.text}`);
  }

  // Namespace -> the config area owning it ("" for Kubernetes' own and the add-ons' fixed ones).
  const namespaces = new Map<string, string>(["kube-system", "kube-public", "kube-node-lease", "default", ...ADDON_FIXED_NAMESPACES].map((n) => [n, ""]));
  for (const area of ["logging", "monitoring"] as const) {
    const name = addons[area].namespace;
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
      problems.add(["addons", area, "namespace"], `${JSON.stringify(name)} is not a namespace name (lower-case letters, digits and '-')`);
    } else if (namespaces.has(name)) {
      const owner = namespaces.get(name);
      problems.add(["addons", area, "namespace"], `"${name}" is ${owner ? `already cluster:addons.${owner}.namespace` : "used by Kubernetes or another add-on"}; the add-on owns (and deletes) its namespace`);
    } else namespaces.set(name, area);
  }

  // Mirror rewrites match the registry host, so every add-on image must name it.
  forEachAddonImage(addons, (path, ref) => {
    const first = ref.split("/")[0];
    if (!(first.includes(".") || first.includes(":") || first === "localhost")) {
      problems.add(["addons", ...path], `${JSON.stringify(ref)} does not start with a registry host; write it in full (e.g. docker.io/${ref}) so cluster:mirrors.addonImageRegistries applies to it`);
    }
  });
}

/** Namespaces the add-ons create under fixed names (see components/addons). */
const ADDON_FIXED_NAMESPACES = ["kube-flannel", "gateway-system", "metallb-system", "local-path-storage", "nfs-provisioner", "headlamp"];

/** Calls `visit` for every image reference in the add-ons config (keys named image or ...Image, and calico's prefix). */
export function forEachAddonImage(addons: StackConfig["addons"], visit: (path: string[], ref: string) => void): void {
  const walk = (value: unknown, path: string[]) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (typeof child === "string" && (key === "image" || key.endsWith("Image") || key === "imagePrefix")) visit([...path, key], child);
      else walk(child, [...path, key]);
    }
  };
  walk(addons, []);
}

/** "10.0.0.1-10.0.0.9" or a CIDR as a numeric range; undefined when first > last. */
function addressRange(text: string): { first: number; last: number } | undefined {
  if (text.includes("/")) {
    const net = parseCidr(text);
    return net && { first: net.first, last: net.last };
  }
  const [first, last] = text.split("-").map(toNumber);
  return first <= last ? { first, last } : undefined;
}

/** Oldest etcd the member scripts work with: learners (member add --learner, member promote) came in 3.4. */
export const MIN_ETCD_VERSION = "3.4.0";
/** The etcd CA's lifetime; member and client certificates cannot outlive it. */
export const ETCD_CA_VALIDITY_DAYS = 3650;

function checkExternalEtcd(etcd: StackConfig["etcd"], problems: ProblemList): void {
  const [major, minor] = etcd.version.split(".").map(Number);
  if (etcd.source === "release" && (major < 3 || (major === 3 && minor < 4))) {
    problems.add(["etcd", "version"], `${etcd.version} is older than ${MIN_ETCD_VERSION}: members join as learners, which etcd has since 3.4`);
  }
  if (etcd.certificateValidityDays > ETCD_CA_VALIDITY_DAYS) {
    problems.add(["etcd", "certificateValidityDays"], `${etcd.certificateValidityDays} is longer than the CA's ${ETCD_CA_VALIDITY_DAYS} days`);
  }
  const segments = (path: string) => path.split("/").filter(Boolean);
  const dirs: Array<[Array<string>, string]> = [[["dataDir"], etcd.dataDir]];
  if (etcd.backup.enabled) dirs.push([["backup", "dir"], etcd.backup.dir]);
  for (const [key, dir] of dirs) {
    if (segments(dir).length < 2) {
      problems.add(["etcd", ...key], `${dir} is not a directory of its own (like /var/lib/etcd or /var/backups/etcd): the etcd delete steps remove it`);
    }
  }
  if (etcd.backup.enabled) {
    const inside = (child: string, parent: string) => (child + "/").startsWith(segments(parent).map((s) => "/" + s).join("") + "/");
    if (inside(etcd.backup.dir, etcd.dataDir) || inside(etcd.dataDir, etcd.backup.dir)) {
      problems.add(["etcd", "backup", "dir"], `${etcd.backup.dir} overlaps cluster:etcd.dataDir ${etcd.dataDir}: snapshots must survive a wiped member`);
    }
    if (/[\n%]/.test(etcd.backup.schedule)) {
      problems.add(["etcd", "backup", "schedule"], "must be one systemd OnCalendar expression without '%' or line breaks");
    }
  }
}

/** Ports kubeadm's control-plane components listen on, by port. */
function controlPlaneServicePorts(cfg: StackConfig): Map<number, string> {
  const ports = new Map<number, string>([
    [cfg.kubernetes.apiServerPort, "the API server"],
    [10250, "the kubelet"],
    [10257, "kube-controller-manager"],
    [10259, "kube-scheduler"],
  ]);
  if (cfg.etcd.topology === "stacked") {
    ports.set(2379, "etcd (clients)");
    ports.set(2380, "etcd (peers)");
  }
  return ports;
}
