import type { ClusterModel, HostModel } from "../config";
import { CGROUP_V2_REQUIRED_FROM } from "../config/kubernetes";
import { putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import { firewalldClose, firewalldOpen, firewalldServiceFile } from "./firewalld";
import { SUPPORTED_OS, packageManagerOf } from "./package-manager";
import { chronyIncludeSources, chronyIncludeRestore, osFamilyCheck, rhelPackages } from "./rhel";
import { selinuxApply, selinuxRestore } from "./selinux";

export const STATE_DIR = "/var/lib/kubeadm-on-pulumi";
export const MODULES_FILE = "/etc/modules-load.d/kubeadm-on-pulumi.conf";
export const SYSCTL_FILE = "/etc/sysctl.d/99-kubeadm-on-pulumi.conf";
export const CHRONY_SOURCES_FILE = "/etc/chrony/sources.d/kubeadm-on-pulumi.sources";

/** Kernel modules a node needs now and at boot. */
export function kernelModules(model: ClusterModel, host: HostModel): string[] {
  if (!host.isNode) return [];
  const modules = ["overlay", "br_netfilter"];
  if (model.kubernetes.kubeProxyMode === "ipvs") modules.push("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack");
  if (model.kubernetes.kubeProxyMode === "nftables") modules.push("nf_tables");
  return modules;
}

export function sysctls(model: ClusterModel, host: HostModel): Record<string, string> {
  const values: Record<string, string> = {};
  if (host.isNode) {
    values["net.bridge.bridge-nf-call-iptables"] = "1";
    values["net.bridge.bridge-nf-call-ip6tables"] = "1";
    values["net.ipv4.ip_forward"] = "1";
    if (model.addons.logging.enabled) values["vm.max_map_count"] = "262144"; // Elasticsearch refuses to start below this
  }
  return { ...values, ...model.os.sysctls };
}

/** Ports kubeadm's components (and ours) will bind on this host, with the process allowed to hold them already. */
export function requiredPorts(model: ClusterModel, host: HostModel): Array<{ port: number; owners: string[]; what: string }> {
  const ports: Array<{ port: number; owners: string[]; what: string }> = [];
  if (host.isNode) ports.push({ port: 10250, owners: ["kubelet"], what: "kubelet" });
  if (host.isControlPlane) {
    ports.push({ port: model.kubernetes.apiServerPort, owners: ["kube-apiserver"], what: "the API server" });
    ports.push({ port: 10257, owners: ["kube-controller"], what: "kube-controller-manager" });
    ports.push({ port: 10259, owners: ["kube-scheduler"], what: "kube-scheduler" });
    if (model.etcd.topology === "stacked") {
      ports.push({ port: 2379, owners: ["etcd"], what: "etcd clients" }, { port: 2380, owners: ["etcd"], what: "etcd peers" });
    }
  }
  if (host.isEtcd && model.etcd.topology === "external") {
    ports.push({ port: model.etcd.clientPort, owners: ["etcd"], what: "etcd clients" });
    ports.push({ port: model.etcd.peerPort, owners: ["etcd"], what: "etcd peers" });
  }
  if (model.loadBalancers.includes(host)) ports.push({ port: model.loadBalancer.port, owners: ["haproxy"], what: "HAProxy" });
  return ports;
}

export function modulesFile(model: ClusterModel, host: HostModel): RenderedFile | undefined {
  const modules = kernelModules(model, host);
  if (modules.length === 0) return undefined;
  return { path: MODULES_FILE, mode: "0644", content: `# Managed by kubeadm-on-pulumi\n${modules.join("\n")}\n` };
}

export function sysctlFile(model: ClusterModel, host: HostModel): RenderedFile | undefined {
  const values = sysctls(model, host);
  if (Object.keys(values).length === 0) return undefined;
  const lines = Object.entries(values).map(([k, v]) => `${k} = ${v}`);
  return { path: SYSCTL_FILE, mode: "0644", content: `# Managed by kubeadm-on-pulumi\n${lines.join("\n")}\n` };
}

export function chronySourcesFile(model: ClusterModel): RenderedFile | undefined {
  if (model.os.timeServers.length === 0) return undefined;
  const lines = model.os.timeServers.map((s) => `server ${s} iburst`);
  return { path: CHRONY_SOURCES_FILE, mode: "0644", content: `# Managed by kubeadm-on-pulumi\n${lines.join("\n")}\n` };
}

/** The oldest kernel kube-proxy's nftables mode works with. */
export const NFTABLES_MIN_KERNEL = "5.13";

/** What a Kubernetes node's kernel must offer for the configured version and kube-proxy mode. */
export function nodePreflight(model: ClusterModel, host: HostModel): string[] {
  const lines: string[] = [];
  if (model.kubernetes.minor >= CGROUP_V2_REQUIRED_FROM && !model.kubernetes.allowCgroupV1) {
    lines.push(
      `if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then kop_fail "${host.name} runs cgroup v1, which the kubelet of Kubernetes 1.${CGROUP_V2_REQUIRED_FROM} and later refuses: boot it with cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line), or set cluster:kubernetes.allowCgroupV1: true to run the kubelet on cgroup v1 anyway (failCgroupV1: false; deprecated upstream)"; fi`,
    );
  }
  if (model.kubernetes.kubeProxyMode === "nftables") {
    lines.push(
      `kernel=$(uname -r); if [ "$(printf '%s\n' ${NFTABLES_MIN_KERNEL} "\${kernel%%-*}" | sort -V | head -n 1)" != ${NFTABLES_MIN_KERNEL} ]; then kop_fail "${host.name} runs kernel $kernel; kube-proxy's nftables mode needs ${NFTABLES_MIN_KERNEL} or newer: use cluster:kubernetes.kubeProxyMode iptables, or a newer kernel"; fi`,
    );
  }
  return lines;
}

function preflight(model: ClusterModel, host: HostModel): string {
  const lines = [
    "# --- preflight: fail before changing anything",
    "[ -r /etc/os-release ] || kop_fail 'unsupported OS: /etc/os-release is missing'",
    "# shellcheck source=/dev/null",
    ". /etc/os-release",
    osFamilyCheck(model, host, SUPPORTED_OS),
    "command -v systemctl >/dev/null || kop_fail 'systemd is required'",
    `[ -n "$(ip -4 route show default 2>/dev/null)" ] || kop_fail 'no default route: kubelet and kube-proxy pick the node address from the default-route interface; add a default route'`,
  ];
  if (host.isNode) lines.push(...nodePreflight(model, host));
  if (host.isControlPlane) {
    lines.push(
      `cpus=$(nproc); [ "$cpus" -ge ${model.os.controlPlaneMinCpus} ] || kop_fail "control plane ${host.name} has $cpus CPU(s); at least ${model.os.controlPlaneMinCpus} are required"`,
      `mem_mib=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 )); [ "$mem_mib" -ge ${model.os.controlPlaneMinMemoryMiB} ] || kop_fail "control plane ${host.name} has $mem_mib MiB of memory; at least ${model.os.controlPlaneMinMemoryMiB} MiB are required"`,
    );
  }
  for (const p of requiredPorts(model, host)) {
    const owners = p.owners.map((o) => `*'"${o}"'*`).join("|");
    lines.push(
      `owner=$(ss -Hltnp "sport = :${p.port}" 2>/dev/null | head -n 1 || true)`,
      `case "$owner" in "") ;; ${owners}) ;; *) kop_fail "port ${p.port} (needed by ${p.what}) is already in use: $owner" ;; esac`,
    );
  }
  return lines.join("\n");
}

function swapOff(): string {
  return String.raw`# --- swap off now and at boot (kubelet refuses to run with swap by default)
swapoff -a
if grep -Eq '^[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]' /etc/fstab; then
  sed -E 's/^([^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# kubeadm-on-pulumi: \1/' /etc/fstab | kop_put /etc/fstab 0644 || true
fi
mkdir -p ${STATE_DIR}
for unit in $(systemctl list-unit-files --type=swap --no-legend 2>/dev/null | awk '{print $1}') $(systemctl list-units --type=swap --all --no-legend --plain 2>/dev/null | awk '{print $1}'); do
  if [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" != masked ]; then
    systemctl mask --now "$unit" >/dev/null 2>&1 || systemctl mask "$unit" >/dev/null
    grep -qxF "$unit" ${STATE_DIR}/masked-swap-units 2>/dev/null || echo "$unit" >>${STATE_DIR}/masked-swap-units
  fi
done`;
}

function loadModules(modules: string[]): string {
  if (modules.length === 0) return "";
  // A module built into the kernel, or loaded by the machine hosting a container, has no .ko to load.
  // Inside a container /sys/module may not show them, so look where each one shows its effect.
  const present: Record<string, string> = {
    overlay: "grep -qw overlay /proc/filesystems",
    br_netfilter: "[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]",
    ip_vs: "[ -e /proc/net/ip_vs ]",
    nf_conntrack: "[ -e /proc/sys/net/netfilter/nf_conntrack_max ]",
    nf_tables: "grep -qw '^nf_tables' /proc/modules 2>/dev/null || [ -d /sys/module/nf_tables ]",
  };
  return [
    "# --- kernel modules now and at boot",
    ...modules.map((m) => {
      const check = present[m] ?? `[ -d /sys/module/${m} ]`;
      const why = m.startsWith("ip_vs") ? " (kube-proxy mode ipvs needs it; use iptables mode or a kernel with IPVS)" : m === "nf_tables" ? " (kube-proxy mode nftables needs it; use iptables mode or a kernel with nf_tables)" : "";
      return `${check} || modprobe ${m} 2>/dev/null || ${check} || kop_fail "kernel module ${m} cannot be loaded${why}"`;
    }),
  ].join("\n");
}

function applySysctls(values: Record<string, string>): string {
  if (Object.keys(values).length === 0) return "";
  return [
    "# --- sysctls now (the file makes them persistent)",
    ...Object.entries(values).map(([key, value]) => {
      const proc = `/proc/sys/${key.replace(/\./g, "/")}`;
      return `if [ "$(cat ${proc} 2>/dev/null)" != ${shQuote(value)} ]; then sysctl -q -w ${shQuote(`${key}=${value}`)} >/dev/null 2>&1 || kop_fail "cannot set ${key}=${value} (read-only here? a container host must set it on the machine)"; fi`;
    }),
  ].join("\n");
}

/** The os-prep step: preflight, swap, modules, sysctls, time sync, hostname. */
export function renderOsPrep(model: ClusterModel, host: HostModel): { script: string; deleteScript: string; files: RenderedFile[] } {
  const pm = packageManagerOf(model);
  const rhel = model.os.family === "rhel";
  const modules = modulesFile(model, host);
  const sysctl = sysctlFile(model, host);
  const chrony = chronySourcesFile(model);
  const firewall = rhel && model.os.firewalld === "open" ? firewalldServiceFile(model, host) : undefined;
  const files = [modules, sysctl, chrony, firewall].filter((f): f is RenderedFile => f !== undefined);
  const packages = rhel ? rhelPackages() : ["chrony", "iproute2", "ca-certificates", "curl", "conntrack", "socat", "ebtables", "ethtool", "iptables"];
  if (model.kubernetes.kubeProxyMode === "ipvs" && host.isNode) packages.push("ipset", "ipvsadm");
  const chronyService = rhel ? "chronyd" : "chrony";
  if (model.kubernetes.kubeProxyMode === "nftables" && host.isNode) packages.push("nftables");

  const body = [
    pm.functions,
    preflight(model, host),
    rhel ? selinuxApply(model, host, pm) : "",
    host.isNode ? swapOff() : "",
    modules ? putFile(modules) : "",
    loadModules(kernelModules(model, host)),
    sysctl ? putFile(sysctl) : "",
    applySysctls(sysctls(model, host)),
    "# --- packages every host needs",
    pm.install(packages, "os-prep"),
    firewall ? firewalldOpen(firewall, host) : "",
    "# --- time synchronisation",
    chrony ? putFile(chrony, `systemctl restart ${chronyService} 2>/dev/null || true`) : "",
    chrony && rhel ? chronyIncludeSources() : "",
    String.raw`systemctl enable ${chronyService} >/dev/null 2>&1 || true
systemctl start ${chronyService} 2>/dev/null || true
if ! systemctl is-active --quiet ${chronyService}; then
  if systemd-detect-virt --container --quiet; then kop_log "${chronyService} inactive: in a container the clock belongs to the machine"
  else kop_fail "${chronyService} is not running: $(systemctl status ${chronyService} --no-pager 2>&1 | tail -n 3)"; fi
fi`,
    "# --- hostname",
    `if [ "$(hostname)" != ${shQuote(host.name)} ]; then`,
    `  printf '%s\\n' ${shQuote(host.name)} | kop_put /etc/hostname 0644 || true`,
    `  hostnamectl set-hostname ${shQuote(host.name)} 2>/dev/null || hostname ${shQuote(host.name)}`,
    "fi",
  ];

  const deleteBody = [
    host.isNode
      ? String.raw`if [ -f ${STATE_DIR}/masked-swap-units ]; then
  while read -r unit; do systemctl unmask "$unit" >/dev/null 2>&1 || true; done <${STATE_DIR}/masked-swap-units
  rm -f ${STATE_DIR}/masked-swap-units
fi
if [ -e /etc/fstab.kop-orig ]; then kop_restore /etc/fstab; swapon -a 2>/dev/null || true; fi`
      : "",
    firewall ? firewalldClose() : "",
    ...files.filter((f) => f !== firewall).map((f) => `kop_restore ${shQuote(f.path)}`),
    chrony && rhel ? chronyIncludeRestore() : "",
    chrony ? `systemctl restart ${chronyService} 2>/dev/null || true` : "",
    "if [ -e /etc/hostname.kop-orig ]; then kop_restore /etc/hostname; hostname \"$(cat /etc/hostname)\" 2>/dev/null || true; fi",
    "rm -f /etc/hostname.kop-created",
    rhel ? selinuxRestore() : "",
    pm.functions,
    pm.purgeRecorded("os-prep"),
    "# The host's last step: what is left of our state is empty directories.",
    `if [ -d ${STATE_DIR} ]; then find ${STATE_DIR} -depth -type d -empty -delete; fi`,
  ];

  return {
    script: script(`prepare ${host.name} for Kubernetes`, body.filter(Boolean).join("\n")),
    deleteScript: script(`undo the preparation of ${host.name}`, deleteBody.filter(Boolean).join("\n")),
    files,
  };
}
