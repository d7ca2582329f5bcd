import type { ClusterModel } from "../config";

export const HAPROXY_CONFIG = "/etc/haproxy/haproxy.cfg";
/** Path of HAProxy's liveness endpoint on 127.0.0.1:healthCheckPort (what keepalived polls). */
export const HAPROXY_HEALTH_PATH = "/healthz";

/** The URL keepalived's vrrp_script polls on every balancer. */
export function haproxyHealthUrl(model: ClusterModel): string {
  return `http://127.0.0.1:${model.loadBalancer.healthCheckPort}${HAPROXY_HEALTH_PATH}`;
}

/**
 * haproxy.cfg for every balancer (the same file on each): a TCP frontend on VIP:port in front
 * of every control plane's API server. The backend list is the only part that depends on the
 * hosts, so adding a control plane changes this file and nothing in keepalived's.
 */
export function renderHaproxyConfig(model: ClusterModel): string {
  const lb = model.loadBalancer;
  const apiPort = model.kubernetes.apiServerPort;
  const servers = model.controlPlanes.map((cp) => `    server ${cp.name} ${cp.internalAddress}:${apiPort}`);
  const lines = [
    `# Managed by kubeadm-on-pulumi: the Kubernetes API endpoint of cluster "${model.name}".`,
    `# Clients connect to ${lb.vip}:${lb.port}; keepalived moves the VIP between the balancers.`,
    "global",
    // The Debian/Ubuntu unit bind-mounts /dev/log into the chroot.
    "    log /dev/log local0 notice",
    "    chroot /var/lib/haproxy",
    // RHEL's package has no /run/haproxy; its own configuration keeps the socket in the chroot.
    `    stats socket ${model.os.family === "rhel" ? "/var/lib/haproxy/stats" : "/run/haproxy/admin.sock"} mode 660 level admin`,
    "    user haproxy",
    "    group haproxy",
    // A reload leaves the old worker serving its open connections; watches would keep it (and
    // the old backend list) alive for up to an hour. Clients reconnect when it closes them.
    "    hard-stop-after 15m",
    "",
    "defaults",
    "    mode tcp",
    "    log global",
    "    option dontlognull",
    "    timeout connect 5s",
    // Watches stay open for up to an hour (--min-request-timeout 1800s, randomised up to 2x) and are
    // quiet between events; client-go's HTTP/2 pings keep them from idling out well before this.
    "    timeout client 1h",
    "    timeout server 1h",
    "    timeout client-fin 30s",
    "    timeout server-fin 30s",
    "    timeout check 5s",
    "    retries 3",
    "    option redispatch",
    "",
    "frontend kube-apiserver",
    // A standby balancer binds the VIP it does not hold yet: net.ipv4.ip_nonlocal_bind=1 allows it.
    `    bind ${lb.vip}:${lb.port}`,
    "    default_backend kube-apiserver",
    "",
    "backend kube-apiserver",
    // Connections are long-lived: send new ones to the server holding the fewest.
    "    balance leastconn",
    // /readyz over TLS (anonymous access is allowed by kubeadm's default RBAC): a server that is up
    // but not serving (etcd unreachable, shutting down) leaves the pool too.
    "    option httpchk",
    "    http-check send meth GET uri /readyz",
    "    http-check expect status 200",
    // Sessions on a server marked down are cut so clients reconnect to a healthy one at once.
    "    default-server check check-ssl verify none inter 2s fall 3 rise 2 on-marked-down shutdown-sessions",
    ...servers,
    "",
    // Liveness of HAProxy itself, on loopback only: answers 200 while this process accepts connections.
    "frontend kop-haproxy-health",
    "    mode http",
    `    bind 127.0.0.1:${lb.healthCheckPort}`,
    "    timeout client 10s",
    `    monitor-uri ${HAPROXY_HEALTH_PATH}`,
  ];
  if (lb.stats.enabled) {
    lines.push(
      "",
      "listen stats",
      "    mode http",
      `    bind 127.0.0.1:${lb.stats.port}`,
      "    timeout client 30s",
      "    stats enable",
      "    stats uri /",
      "    stats refresh 10s",
    );
  }
  return lines.join("\n") + "\n";
}
