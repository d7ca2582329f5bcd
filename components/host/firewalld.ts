import type { ClusterModel, HostModel } from "../config";
import { calicoEncapsulation } from "../addons/cni/calico";
import { putFile, type RenderedFile } from "../remote/shell";
// The state directory (components/host/prep.ts STATE_DIR), written out: prep.ts imports this file.
const STATE_DIR = "/var/lib/kubeadm-on-pulumi";

/** Our own firewalld service: every port this host's roles need, added to the default zone as one name. */
export const FIREWALLD_SERVICE = "kubeadm-on-pulumi";
export const FIREWALLD_SERVICE_FILE = `/etc/firewalld/services/${FIREWALLD_SERVICE}.xml`;
/** The zone the service was added to, so the delete takes it out of that one. */
const ZONE_RECORD = `${STATE_DIR}/firewalld-zone`;

export type Opening = { port: string; protocol: "tcp" | "udp"; what: string } | { protocol: "ip"; value: string; what: string };

const tcp = (port: number | string, what: string): Opening => ({ port: String(port), protocol: "tcp", what });
const udp = (port: number | string, what: string): Opening => ({ port: String(port), protocol: "udp", what });

/** What other machines reach on this host, by role and add-on (Kubernetes' "Ports and Protocols", the CNI's, ours). */
export function firewallOpenings(model: ClusterModel, host: HostModel): Opening[] {
  const open: Opening[] = [];
  const monitoring = model.addons.monitoring.enabled;
  if (host.isControlPlane) {
    open.push(tcp(model.kubernetes.apiServerPort, "kube-apiserver"));
    if (model.etcd.topology === "stacked") open.push(tcp("2379-2380", "etcd clients and peers"));
    // kubeadm binds these to 127.0.0.1 unless monitoring moves them to the node's address.
    if (monitoring) open.push(tcp(10257, "kube-controller-manager metrics"), tcp(10259, "kube-scheduler metrics"));
    if (monitoring && model.etcd.topology === "stacked") open.push(tcp(2381, "etcd metrics"));
  }
  if (host.isEtcd && model.etcd.topology === "external") {
    open.push(tcp(model.etcd.clientPort, "etcd clients"), tcp(model.etcd.peerPort, "etcd peers"));
  }
  if (host.isNode) {
    open.push(tcp(10250, "kubelet API"), tcp(10256, "kube-proxy health check"));
    if (monitoring) open.push(tcp(10249, "kube-proxy metrics"), tcp(9100, "node-exporter"));
    open.push(...cniOpenings(model));
    if (model.addons.metallb.enabled) open.push(tcp(7946, "MetalLB memberlist"), udp(7946, "MetalLB memberlist"));
    const gateway = model.addons.gateway;
    const servesGateway = Object.entries(gateway.nodeSelector).every(([k, v]) => host.labels[k] === v);
    if (gateway.enabled && gateway.mode === "hostNetwork" && servesGateway) {
      open.push(tcp(80, "Gateway HTTP (Traefik)"));
      if (gateway.tlsSecretName) open.push(tcp(443, "Gateway HTTPS (Traefik)"));
    }
  }
  if (host.isWorker) open.push(tcp("30000-32767", "NodePort services"), udp("30000-32767", "NodePort services"));
  if (model.loadBalancers.includes(host)) {
    open.push(tcp(model.loadBalancer.port, "HAProxy API frontend"), { protocol: "ip", value: "vrrp", what: "keepalived VRRP adverts" });
  }
  // One port may serve two roles (a colocated frontend is not the API port, but keep each entry once).
  const seen = new Set<string>();
  return open.filter((o) => {
    const key = o.protocol === "ip" ? `ip/${o.value}` : `${o.port}/${o.protocol}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function cniOpenings(model: ClusterModel): Opening[] {
  const cni = model.addons.cni;
  if (cni.plugin === "flannel") {
    if (cni.flannel.backend === "vxlan") return [udp(8472, "flannel VXLAN")];
    if (cni.flannel.backend === "wireguard") return [udp(51820, "flannel WireGuard")];
    return []; // host-gw routes plain pod traffic
  }
  const encap = calicoEncapsulation(model);
  const open: Opening[] = [];
  if (encap.backend === "bird") open.push(tcp(179, "calico BGP"));
  if (encap.ipip !== "Never") open.push({ protocol: "ip", value: "4", what: "calico IP-in-IP" }); // protocol 4, named differently per /etc/protocols
  if (encap.vxlan !== "Never") open.push(udp(4789, "calico VXLAN"));
  return open;
}

export function firewalldServiceFile(model: ClusterModel, host: HostModel): RenderedFile {
  const lines = firewallOpenings(model, host).map((o) =>
    o.protocol === "ip" ? `  <protocol value="${o.value}"/> <!-- ${o.what} -->` : `  <port protocol="${o.protocol}" port="${o.port}"/> <!-- ${o.what} -->`,
  );
  const content = [
    '<?xml version="1.0" encoding="utf-8"?>',
    "<!-- Managed by kubeadm-on-pulumi -->",
    "<service>",
    `  <short>${FIREWALLD_SERVICE}</short>`,
    `  <description>What the Kubernetes roles of ${host.name} need reachable from the other hosts.</description>`,
    ...lines,
    "</service>",
    "",
  ].join("\n");
  return { path: FIREWALLD_SERVICE_FILE, mode: "0644", content };
}

/**
 * Opens the ports in a running firewalld (or, stopped, in its permanent configuration, so they are
 * open when it starts). firewalld itself is never stopped, disabled or installed.
 */
export function firewalldOpen(file: RenderedFile, host: HostModel): string {
  const S = FIREWALLD_SERVICE;
  return [
    "# --- firewalld: this host's ports as one service in the default zone (cluster:os.firewalld)",
    "if systemctl is-active --quiet firewalld; then",
    `  ${putFile(file, `firewall-cmd --reload >/dev/null || kop_fail "firewalld rejects ${file.path}"`)}`,
    `  zone=$(cat ${ZONE_RECORD} 2>/dev/null || firewall-cmd --get-default-zone)`,
    `  if ! firewall-cmd --permanent --zone="$zone" --query-service=${S} >/dev/null 2>&1; then`,
    `    mkdir -p ${STATE_DIR} && printf '%s\\n' "$zone" >${ZONE_RECORD}`,
    `    firewall-cmd --permanent --zone="$zone" --add-service=${S} >/dev/null || kop_fail "cannot add the ${S} service to the firewalld zone $zone"`,
    "    firewall-cmd --reload >/dev/null",
    "  fi",
    "elif command -v firewall-offline-cmd >/dev/null 2>&1; then",
    `  ${putFile(file)}`,
    `  zone=$(cat ${ZONE_RECORD} 2>/dev/null || firewall-offline-cmd --get-default-zone)`,
    `  if ! firewall-offline-cmd --zone="$zone" --query-service=${S} >/dev/null 2>&1; then`,
    `    mkdir -p ${STATE_DIR} && printf '%s\\n' "$zone" >${ZONE_RECORD}`,
    `    firewall-offline-cmd --zone="$zone" --add-service=${S} >/dev/null || kop_fail "cannot add the ${S} service to the firewalld zone $zone"`,
    "  fi",
    "else",
    `  ${putFile(file)}`,
    `  kop_log "firewalld is not installed on ${host.name}: no ports to open"`,
    "fi",
  ].join("\n");
}

/** Takes our service out of the zone it was added to and removes its file; firewalld's own state stays. */
export function firewalldClose(): string {
  const S = FIREWALLD_SERVICE;
  return [
    `if [ -f ${ZONE_RECORD} ]; then`,
    `  zone=$(cat ${ZONE_RECORD})`,
    "  if systemctl is-active --quiet firewalld; then",
    `    firewall-cmd --permanent --zone="$zone" --remove-service=${S} >/dev/null 2>&1 || true`,
    "  elif command -v firewall-offline-cmd >/dev/null 2>&1; then",
    `    firewall-offline-cmd --zone="$zone" --remove-service=${S} >/dev/null 2>&1 || true`,
    "  fi",
    `  rm -f ${ZONE_RECORD}`,
    "fi",
    `kop_restore ${FIREWALLD_SERVICE_FILE}`,
    "if systemctl is-active --quiet firewalld; then firewall-cmd --reload >/dev/null || true; fi",
    "# Without firewalld the directories were made for our file; with it, they are the package's.",
    "if ! command -v firewall-cmd >/dev/null 2>&1; then rmdir /etc/firewalld/services /etc/firewalld 2>/dev/null || true; fi",
  ].join("\n");
}
