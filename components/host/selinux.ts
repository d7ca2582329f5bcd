import type { ClusterModel, HostModel } from "../config";
import type { PackageManager } from "./package-manager";

// The state directory (components/host/prep.ts STATE_DIR), written out: prep.ts imports this file.
const STATE_DIR = "/var/lib/kubeadm-on-pulumi";
/** The running mode before os-prep changed it ("Enforcing" or "Permissive"), put back by the delete. */
const MODE_RECORD = `${STATE_DIR}/selinux-mode`;
/** haproxy_connect_any before os-prep switched it on ("on"/"off"). */
const HAPROXY_BOOL_RECORD = `${STATE_DIR}/selinux-haproxy_connect_any`;
const CONFIG = "/etc/selinux/config";

/** SELINUX= in /etc/selinux/config set to `mode` (the boot-time mode), the host's file kept for the delete. */
function setBootMode(mode: "permissive" | "enforcing"): string {
  const from = mode === "permissive" ? "enforcing" : "(permissive|disabled)";
  return `if [ -f ${CONFIG} ] && grep -Eq '^SELINUX=${from}[[:space:]]*$' ${CONFIG}; then sed -E 's/^SELINUX=.*/SELINUX=${mode}/' ${CONFIG} | kop_put ${CONFIG} 0644 || true; fi`;
}

/**
 * cluster:os.selinux on a RHEL-family host. permissive (default): kubeadm's documented setting,
 * static pods and hostPath volumes work unlabeled. enforcing: container-selinux's policy, and on
 * load balancers the boolean HAProxy needs to reach the API servers' ports. leave: nothing.
 */
export function selinuxApply(model: ClusterModel, host: HostModel, pm: PackageManager): string {
  const mode = model.os.selinux;
  if (mode === "leave") return "# --- SELinux: left as the host has it (cluster:os.selinux: leave)";
  const probe = `command -v getenforce >/dev/null 2>&1 || kop_fail "cluster:os.selinux is ${mode} but ${host.name} has no getenforce (libselinux-utils): install it or set cluster:os.selinux to leave"`;
  if (mode === "permissive") {
    return [
      "# --- SELinux: permissive now and at boot (cluster:os.selinux)",
      probe,
      'if [ "$(getenforce)" = Enforcing ]; then',
      `  mkdir -p ${STATE_DIR} && { [ -e ${MODE_RECORD} ] || echo Enforcing >${MODE_RECORD}; }`,
      "  setenforce 0",
      "fi",
      setBootMode("permissive"),
    ].join("\n");
  }
  const lines = [
    "# --- SELinux: enforcing now and at boot, with container-selinux's policy (cluster:os.selinux)",
    probe,
    `[ "$(getenforce)" != Disabled ] || kop_fail "SELinux is disabled on ${host.name}: enforcing needs the file system relabeled and a reboot (docs/rhel.md); do that first, or set cluster:os.selinux to permissive or leave"`,
    pm.install(["container-selinux"], "os-prep"),
    'if [ "$(getenforce)" = Permissive ]; then',
    `  mkdir -p ${STATE_DIR} && { [ -e ${MODE_RECORD} ] || echo Permissive >${MODE_RECORD}; }`,
    "  setenforce 1",
    "fi",
    setBootMode("enforcing"),
  ];
  if (model.loadBalancers.includes(host)) {
    lines.push(
      "# HAProxy forwards to the API servers' port, which the policy does not let it reach by default.",
      "if [ \"$(getsebool haproxy_connect_any | awk '{print $3}')\" != on ]; then",
      `  mkdir -p ${STATE_DIR} && { [ -e ${HAPROXY_BOOL_RECORD} ] || echo off >${HAPROXY_BOOL_RECORD}; }`,
      "  setsebool -P haproxy_connect_any on",
      "fi",
    );
  }
  return lines.join("\n");
}

/** Puts back the boot-time config, the running mode and the HAProxy boolean os-prep changed. */
export function selinuxRestore(): string {
  return [
    `if [ -e ${CONFIG}.kop-orig ]; then kop_restore ${CONFIG}; fi`,
    `if [ -f ${MODE_RECORD} ]; then`,
    `  case "$(cat ${MODE_RECORD})" in Enforcing) setenforce 1 || true ;; Permissive) setenforce 0 || true ;; esac`,
    `  rm -f ${MODE_RECORD}`,
    "fi",
    `if [ -f ${HAPROXY_BOOL_RECORD} ]; then setsebool -P haproxy_connect_any "$(cat ${HAPROXY_BOOL_RECORD})" || true; rm -f ${HAPROXY_BOOL_RECORD}; fi`,
  ].join("\n");
}
