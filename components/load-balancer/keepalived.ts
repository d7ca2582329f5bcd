import type { ClusterModel, HostModel } from "../config";
import { haproxyHealthUrl } from "./haproxy";

export const KEEPALIVED_CONFIG = "/etc/keepalived/keepalived.conf";
/** Root-only file holding the VRRP password (`auth_pass ...`), included by keepalived.conf. */
export const VRRP_AUTH_FILE = "/etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf";
/** The generated secret (components/secrets.ts) the VRRP password comes from. */
export const VRRP_AUTH_SECRET = "vrrp_auth";
/** Unprivileged user keepalived runs the HAProxy check as (present on every Debian and Ubuntu). */
export const SCRIPT_USER = "nobody";
export const VRRP_SCRIPT = "kop_haproxy_alive";

/** keepalived's check of HAProxy: every second, two misses in a row take the VIP away. */
export const HAPROXY_CHECK = { intervalSeconds: 1, timeoutSeconds: 2, fall: 2, rise: 2 };

export function vrrpInstanceName(model: ClusterModel): string {
  return `kop_api_${model.loadBalancer.virtualRouterId}`;
}

/**
 * VRRP priority by the balancer's place in cluster:hosts: the first listed holds the VIP while
 * it is healthy. Unique for up to 199 balancers; appending a balancer keeps the others' values.
 */
export function vrrpPriority(model: ClusterModel, host: HostModel): number {
  const index = model.loadBalancers.findIndex((h) => h.name === host.name);
  if (index < 0) throw new Error(`${host.name} is not a load balancer`);
  return Math.max(1, 200 - index);
}

/** The other balancers, which this one sends its adverts to (unicast: multicast is often filtered). */
export function unicastPeers(model: ClusterModel, host: HostModel): string[] {
  return model.loadBalancers.filter((h) => h.name !== host.name).map((h) => h.internalAddress);
}

/**
 * keepalived.conf for one balancer. Depends on the balancers and the VRRP settings only, never
 * on the control planes, so HAProxy's backend list can change without touching it. The
 * password is not in it: it comes from VRRP_AUTH_FILE, written from a secret.
 */
export function renderKeepalivedConfig(model: ClusterModel, host: HostModel): string {
  const lb = model.loadBalancer;
  const peers = unicastPeers(model, host);
  const check = HAPROXY_CHECK;
  return [
    `# Managed by kubeadm-on-pulumi: the API endpoint VIP of cluster "${model.name}" (HAProxy on ${lb.vip}:${lb.port}).`,
    "global_defs {",
    `    router_id ${host.name}`,
    // Scripts run only when neither they nor their directories are writable by others, as an unprivileged user.
    "    enable_script_security",
    `    script_user ${SCRIPT_USER}`,
    "}",
    "",
    `vrrp_script ${VRRP_SCRIPT} {`,
    `    script "/usr/bin/curl -fsS --max-time ${check.timeoutSeconds} -o /dev/null ${haproxyHealthUrl(model)}"`,
    `    interval ${check.intervalSeconds}`,
    `    timeout ${check.timeoutSeconds}`,
    `    fall ${check.fall}`,
    `    rise ${check.rise}`,
    "}",
    "",
    `vrrp_instance ${vrrpInstanceName(model)} {`,
    // Every balancer starts as BACKUP; the highest priority among the healthy ones takes the VIP.
    "    state BACKUP",
    `    interface ${lb.interface}`,
    `    virtual_router_id ${lb.virtualRouterId}`,
    `    priority ${vrrpPriority(model, host)}`,
    `    advert_int ${lb.advertIntervalSeconds}`,
    `    unicast_src_ip ${host.internalAddress}`,
    "    unicast_peer {",
    ...peers.map((p) => `        ${p}`),
    "    }",
    "    authentication {",
    "        auth_type PASS",
    `        include ${VRRP_AUTH_FILE}`,
    "    }",
    "    virtual_ipaddress {",
    `        ${lb.vip}/32 dev ${lb.interface}`,
    "    }",
    // A failing check puts this instance in FAULT: it gives the VIP up even though the host is alive.
    "    track_script {",
    `        ${VRRP_SCRIPT}`,
    "    }",
    "}",
    "",
  ].join("\n");
}

