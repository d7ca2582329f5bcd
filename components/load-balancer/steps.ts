import type { ClusterModel, HostModel } from "../config";
import { packageManagerOf } from "../host/package-manager";
import { STATE_DIR } from "../host/prep";
import { heredocMarker, putFile, script, shQuote, type RenderedFile } from "../remote/shell";
import { HAPROXY_CONFIG, haproxyHealthUrl, renderHaproxyConfig } from "./haproxy";
import { KEEPALIVED_CONFIG, renderKeepalivedConfig, VRRP_AUTH_FILE, VRRP_AUTH_SECRET } from "./keepalived";

export const LB_PACKAGES = ["haproxy", "keepalived", "curl"];
export const NONLOCAL_BIND_SYSCTL_FILE = "/etc/sysctl.d/90-kubeadm-on-pulumi-load-balancer.conf";
/** Name under which the install step records the packages it added, so its delete removes exactly those. */
const PACKAGE_RECORD = "load-balancer";
/** The host's net.ipv4.ip_nonlocal_bind before the install step, put back on delete. */
export const NONLOCAL_BIND_ORIGINAL = `${STATE_DIR}/load-balancer-ip_nonlocal_bind.orig`;
const NONLOCAL_BIND_PROC = "/proc/sys/net/ipv4/ip_nonlocal_bind";

export interface RenderedStep {
  script: string;
  deleteScript: string;
  files: RenderedFile[];
}

export function nonlocalBindFile(): RenderedFile {
  return {
    path: NONLOCAL_BIND_SYSCTL_FILE,
    mode: "0644",
    content: "# Managed by kubeadm-on-pulumi: HAProxy binds the API VIP even on the balancer that does not hold it.\nnet.ipv4.ip_nonlocal_bind = 1\n",
  };
}

/** Packages and the sysctl HAProxy needs to bind a VIP it does not hold. */
export function renderInstall(model: ClusterModel, host: HostModel): RenderedStep {
  const pm = packageManagerOf(model);
  const sysctl = nonlocalBindFile();
  const body = [
    pm.functions,
    `mkdir -p ${STATE_DIR}`,
    "# --- net.ipv4.ip_nonlocal_bind: the standby's HAProxy binds the VIP before it arrives",
    `[ -e ${NONLOCAL_BIND_ORIGINAL} ] || cat ${NONLOCAL_BIND_PROC} >${NONLOCAL_BIND_ORIGINAL}`,
    putFile(sysctl),
    `if [ "$(cat ${NONLOCAL_BIND_PROC})" != 1 ]; then sysctl -q -w net.ipv4.ip_nonlocal_bind=1 >/dev/null || kop_fail "cannot set net.ipv4.ip_nonlocal_bind=1 on ${host.name}"; fi`,
    "# --- HAProxy, keepalived, and curl for keepalived's check of HAProxy",
    pm.install(LB_PACKAGES, PACKAGE_RECORD),
  ];
  const deleteBody = [
    pm.functions,
    pm.purgeRecorded(PACKAGE_RECORD),
    // Left behind when the package goes: systemd's bind-mount target for /dev/log in HAProxy's chroot
    // (so dpkg cannot remove the directory) and the stats socket (the package's tmpfiles directory;
    // in the chroot on the RHEL family).
    "if ! kop_pkg_installed haproxy; then",
    "  if [ -d /var/lib/haproxy ]; then rm -f /var/lib/haproxy/dev/log /var/lib/haproxy/stats; rmdir /var/lib/haproxy/dev /var/lib/haproxy 2>/dev/null || true; fi",
    "  if [ -d /run/haproxy ]; then rm -f /run/haproxy/admin.sock; rmdir /run/haproxy 2>/dev/null || true; fi",
    "fi",
    `kop_restore ${NONLOCAL_BIND_SYSCTL_FILE}`,
    `if [ -e ${NONLOCAL_BIND_ORIGINAL} ]; then sysctl -q -w net.ipv4.ip_nonlocal_bind="$(cat ${NONLOCAL_BIND_ORIGINAL})" >/dev/null || true; rm -f ${NONLOCAL_BIND_ORIGINAL}; fi`,
  ];
  return {
    script: script(`install HAProxy and keepalived on ${host.name}`, body.join("\n")),
    deleteScript: script(`remove HAProxy and keepalived from ${host.name}`, deleteBody.join("\n")),
    files: [sysctl],
  };
}

/** Writes `content` to a scratch file, runs `check` on it ($new), and only then swaps it in with kop_put. */
function checkedPut(file: RenderedFile, check: string, what: string): string {
  if (!file.content.endsWith("\n")) throw new Error(`${file.path}: rendered content must end with a newline`);
  const marker = heredocMarker(file.content);
  return [
    `new=$(mktemp /tmp/kop-check.XXXXXX)`,
    `cat >"$new" <<'${marker}'\n${file.content}${marker}`,
    `if ! out=$(${check} 2>&1); then rm -f "$new"; kop_fail "${what} rejects the rendered ${file.path}, the running one stays: $out"; fi`,
    `if kop_put ${shQuote(file.path)} ${file.mode} <"$new"; then changed=1; fi`,
    `rm -f "$new"`,
  ].join("\n");
}

/** haproxy.cfg, checked with `haproxy -c` before it replaces the running one, then a reload (never a restart). */
export function renderHaproxyStep(model: ClusterModel, host: HostModel): RenderedStep {
  const config: RenderedFile = { path: HAPROXY_CONFIG, mode: "0644", content: renderHaproxyConfig(model) };
  const url = haproxyHealthUrl(model);
  const body = [
    "changed=0",
    checkedPut(config, 'haproxy -c -f "$new"', "HAProxy"),
    "systemctl enable haproxy.service >/dev/null 2>&1",
    "if ! systemctl is-active --quiet haproxy.service; then systemctl restart haproxy.service",
    // A reload starts new workers with the new backends; open connections finish on the old ones.
    'elif [ "$changed" = 1 ]; then systemctl reload haproxy.service; fi',
    `for _ in $(seq 1 20); do if curl -fsS --max-time 2 -o /dev/null ${url}; then healthy=1; break; fi; sleep 0.5; done`,
    `[ "\${healthy:-0}" = 1 ] || kop_fail "HAProxy on ${host.name} does not answer ${url}: $(systemctl status haproxy.service --no-pager 2>&1 | tail -n 5)"`,
  ];
  const deleteBody = [
    // The host's own haproxy.cfg (the package's, when we installed it) comes back; HAProxy runs it if it ran before.
    `kop_restore ${HAPROXY_CONFIG}`,
    "if systemctl is-active --quiet haproxy.service; then systemctl reload-or-restart haproxy.service || true; fi",
  ];
  return {
    script: script(`HAProxy in front of the API servers on ${host.name}`, body.join("\n")),
    deleteScript: script(`restore the HAProxy configuration of ${host.name}`, deleteBody.join("\n")),
    files: [config],
  };
}

/**
 * keepalived.conf and the VRRP password file. The password arrives on stdin (secret vrrp_auth)
 * and goes straight into a root-only file; the script text never holds it.
 */
export function renderKeepalivedStep(model: ClusterModel, host: HostModel): RenderedStep {
  const config: RenderedFile = { path: KEEPALIVED_CONFIG, mode: "0644", content: renderKeepalivedConfig(model, host) };
  // The content is assembled on the host from the secret; nothing of it is known here.
  const auth: RenderedFile = { path: VRRP_AUTH_FILE, mode: "0600", content: "", secret: { name: VRRP_AUTH_SECRET } };
  const lb = model.loadBalancer;
  const password = "$vrrp_password";
  const endpoint = `${lb.vip}:${lb.port}`;
  const body = [
    `# shellcheck disable=SC2154 # set by kop_secret from stdin`,
    `vrrp_password=$SECRET_${VRRP_AUTH_SECRET}`,
    // VRRPv2 PASS authentication carries at most 8 characters; longer ones would be cut silently.
    `case "${password}" in ''|*[!A-Za-z0-9]*) kop_fail "secret ${VRRP_AUTH_SECRET} must be 1 to 8 letters or digits" ;; esac`,
    `[ \${#vrrp_password} -le 8 ] || kop_fail "secret ${VRRP_AUTH_SECRET} must be 1 to 8 letters or digits"`,
    "changed=0",
    `if printf 'auth_pass %s\\n' "${password}" | kop_put ${VRRP_AUTH_FILE} ${auth.mode}; then changed=1; fi`,
    // keepalived 2.2.7 (Debian 12) kills itself during -t when scripts are configured unless its
    // parent pid reads 0 (fixed in 2.2.8): run the check as pid 1 of a new PID namespace.
    checkedPut(config, 'unshare --pid --fork keepalived -t -l -f "$new"', "keepalived"),
    "systemctl enable keepalived.service >/dev/null 2>&1",
    "if ! systemctl is-active --quiet keepalived.service; then systemctl restart keepalived.service",
    'elif [ "$changed" = 1 ]; then systemctl reload keepalived.service; fi',
    // Ready means some balancer holds the VIP and its HAProxy accepts connections (kubeadm init goes through it).
    `for _ in $(seq 1 30); do if timeout 2 bash -c ': </dev/tcp/${lb.vip}/${lb.port}' 2>/dev/null; then answered=1; break; fi; sleep 1; done`,
    `[ "\${answered:-0}" = 1 ] || kop_fail "nothing answers on the VIP ${endpoint} 30 s after keepalived started on ${host.name}: $(ip -br addr show dev ${lb.interface} 2>&1) $(systemctl status keepalived.service --no-pager 2>&1 | tail -n 5)"`,
  ];
  const deleteBody = [
    `kop_restore ${VRRP_AUTH_FILE}`,
    // Stopping keepalived releases the VIP at once (it sends a priority-0 advert); a keepalived.conf
    // the host had before goes back into service instead.
    `if [ -e ${KEEPALIVED_CONFIG}.kop-orig ]; then kop_restore ${KEEPALIVED_CONFIG}; systemctl restart keepalived.service || true`,
    `else systemctl disable --now keepalived.service >/dev/null 2>&1 || true; kop_restore ${KEEPALIVED_CONFIG}; fi`,
  ];
  return {
    script: script(`keepalived moving ${lb.vip} between the balancers, on ${host.name}`, body.join("\n"), [VRRP_AUTH_SECRET]),
    deleteScript: script(`remove the keepalived configuration of ${host.name}`, deleteBody.join("\n")),
    files: [config, auth],
  };
}
