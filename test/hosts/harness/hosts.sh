#!/usr/bin/env bash
# Test hosts for kubeadm-on-Pulumi: Debian 12 machines booted with
# systemd-nspawn from copy-on-write overlays of one cached rootfs, on a private
# bridge, reachable over real SSH with a throwaway key.
#
# Usage:
#   hosts.sh up NAME...        boot hosts (addresses in order from .11), print JSON
#   hosts.sh down [--all]      stop every host of the run and remove what the run
#                              added; --all: every registered run plus any orphan
#   hosts.sh gc                down every run whose owner process has died
#
# Several runs may be up at once (say, two engineers' test files on one
# machine): they share the bridge and the subnet, addresses are handed out
# across runs, and the last run down removes the bridge and the iptables rules.
# Runs up at the same time may use the same host names (each host's bridge port is named after its address).
#   hosts.sh stop NAME         power a host off (disk and address are kept)
#   hosts.sh start NAME        boot a stopped host again, wait for SSH
#   hosts.sh link NAME up|down take the host's bridge port up or down
#   hosts.sh status            print the run's JSON description
#   hosts.sh ssh NAME [CMD...] open an SSH session to a host
#
# Environment:
#   KOP_HOSTS_RUN          run directory (default /tmp/kubeadm-on-pulumi-hosts)
#   KOP_HOSTS_CACHE        rootfs cache (see rootfs.sh)
#   KOP_HOSTS_BRIDGE       bridge name (default kopbr0)
#   KOP_HOSTS_PREFIX       first three octets of the /24 (default 10.213.0)
#   KOP_HOSTS_OWNER_PID    process that owns the run; `gc` (and `up` of another
#                          run) tears the run down once it has died (default 0:
#                          no owner, only `down` ends the run)
#   KOP_HOSTS_BOOT_TIMEOUT seconds to wait for SSH (default 120)
#   KOP_HOSTS_NSPAWN_ARGS  extra systemd-nspawn arguments (word-split)
#   KOP_HOSTS_SUITE        Debian release of the hosts: bookworm (default) or trixie (see rootfs.sh)
#   KOP_HOSTS_KUBERNETES   1: hosts that can run a real kubelet (kubernetes-host.sh):
#                          all capabilities, /dev/kmsg, per-host data directories on
#                          the machine's filesystem for containerd, the kubelet and
#                          etcd, and a boot unit with this machine's workarounds
#
# Every host boots in its own cgroup (a child of the supervisor's in every
# hierarchy): two kubelets in one cgroup remove each other's pods, and one
# host's `systemctl stop` would reach the other's unit of that name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${KOP_HOSTS_RUN:-/tmp/kubeadm-on-pulumi-hosts}"
BRIDGE="${KOP_HOSTS_BRIDGE:-kopbr0}"
PREFIX="${KOP_HOSTS_PREFIX:-10.213.0}"
GATEWAY="$PREFIX.1"
SUBNET="$PREFIX.0/24"
FIRST_HOST=11
BOOT_TIMEOUT="${KOP_HOSTS_BOOT_TIMEOUT:-120}"
STATE=/run/kubeadm-on-pulumi
REGISTRY="$STATE/runs"
FWD_CHAIN="KOP-FWD-$BRIDGE"
NAT_CHAIN="KOP-NAT-$BRIDGE"
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
  -o LogLevel=ERROR -o ConnectTimeout=3 -o ServerAliveInterval=5 -o ServerAliveCountMax=3)

log() { printf '[hosts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[hosts] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

require_root() {
  [[ $EUID -eq 0 ]] || die "test hosts need root (systemd-nspawn, bridges, iptables); running as uid $EUID"
  local cmd
  for cmd in systemd-nspawn ip iptables ssh ssh-keygen mount flock nsenter; do
    command -v "$cmd" >/dev/null 2>&1 || die "prerequisite '$cmd' is missing; run $HERE/rootfs.sh (it installs them)"
  done
  grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs"
}

valid_name() {
  [[ "$1" =~ ^[a-z][a-z0-9-]{0,10}$ ]] || die "host name '$1' must match ^[a-z][a-z0-9-]{0,10}\$ (a short hostname)"
}

hostdir() { printf '%s/hosts/%s' "$RUN" "$1"; }

# nspawn's machine name, and so its bridge port vb-MACHINE: named after the host's address index,
# which is unique among the runs up at once, so runs may use the same host names side by side.
machine_of_index() { printf 'kop-%s' "$1"; }
machine_of() { machine_of_index "$(cat "$(hostdir "$1")/index")"; }
veth_of() { printf 'vb-%s' "$(machine_of "$1")"; }

# Serialises commands on one run.  Background processes never keep fd 8 (see
# boot_host), but `down` must work whatever holds it: it goes on without the
# lock after a while.
with_lock() {
  local wait="${1:-120}"
  install -d -m 755 "$RUN"
  exec 8>"$RUN/.lock"
  if ! flock -w "$wait" 8; then
    [[ "${2:-}" == force ]] || die "run $RUN is locked by another hosts.sh command for ${wait}s"
    log "run $RUN still locked after ${wait}s; going on without the lock"
  fi
}

# Serialises what runs share: the bridge, iptables rules, address allocation.
global_lock() {
  install -d -m 755 "$STATE" "$REGISTRY"
  exec 7>"$STATE/.lock"
  flock -w 120 7 || die "$STATE/.lock is held by another hosts.sh for 120s"
}
global_unlock() { exec 7>&-; }

run_key() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# Run directories of every registered run on bridge $1 (other than $RUN).
other_runs_on_bridge() {
  local r target
  for r in "$REGISTRY"/*; do
    [[ -L "$r" ]] || continue
    target="$(readlink "$r")"
    [[ "$target" != "$RUN" && -e "$target/run.env" ]] || continue
    grep -qx "RUN_BRIDGE=$1" "$target/run.env" && printf '%s\n' "$target"
  done
  return 0
}

# ---------------------------------------------------------------- process ids

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

pid_start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

read_pid() { if [[ -s "$1" ]]; then cat "$1"; fi; }

# The init process (pid 1 of its own pid namespace) of a host's container,
# found by the marker nspawn puts in its environment.  Works after nspawn
# itself died; SIGKILL to it ends every process of the container.
container_inits() {
  local marker="KOP_HOSTS_MARKER=$1" p
  for p in /proc/[0-9]*; do
    grep -qE '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' "$p/status" 2>/dev/null || continue
    [[ $'\n'"$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null)"$'\n' == *$'\n'"$marker"$'\n'* ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# ------------------------------------------------------------------- network

machine_setup_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up

  if [[ ! -e "$STATE/ip_forward.orig" ]]; then
    cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
  fi
  echo 1 >/proc/sys/net/ipv4/ip_forward

  # Forwarding out of the test subnet is limited to the Debian mirror(s) the
  # hosts' apt sources name (resolved here, pinned in each host's /etc/hosts);
  # everything else leaving the subnet is rejected.
  iptables -w -N "$FWD_CHAIN" 2>/dev/null || iptables -w -F "$FWD_CHAIN"
  iptables -w -C FORWARD -j "$FWD_CHAIN" 2>/dev/null || iptables -w -I FORWARD 1 -j "$FWD_CHAIN"
  iptables -w -A "$FWD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  iptables -w -A "$FWD_CHAIN" -o "$BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  local ip
  while read -r ip _; do
    [[ -n "$ip" ]] || continue
    iptables -w -A "$FWD_CHAIN" -i "$BRIDGE" -s "$SUBNET" -d "$ip" -p tcp -m multiport --dports 80,443 -j ACCEPT
  done <"$RUN/mirror-hosts"
  iptables -w -A "$FWD_CHAIN" -i "$BRIDGE" -j REJECT 2>/dev/null || iptables -w -A "$FWD_CHAIN" -i "$BRIDGE" -j DROP
  iptables -w -A "$FWD_CHAIN" -o "$BRIDGE" -j DROP

  iptables -w -t nat -N "$NAT_CHAIN" 2>/dev/null || iptables -w -t nat -F "$NAT_CHAIN"
  iptables -w -t nat -C POSTROUTING -j "$NAT_CHAIN" 2>/dev/null || iptables -w -t nat -I POSTROUTING 1 -j "$NAT_CHAIN"
  iptables -w -t nat -A "$NAT_CHAIN" -s "$SUBNET" ! -o "$BRIDGE" -j MASQUERADE
}

machine_teardown_network() {
  local bridge="$1" fwd="KOP-FWD-$1" nat="KOP-NAT-$1"
  while iptables -w -D FORWARD -j "$fwd" 2>/dev/null; do :; done
  iptables -w -F "$fwd" 2>/dev/null || true
  iptables -w -X "$fwd" 2>/dev/null || true
  while iptables -w -t nat -D POSTROUTING -j "$nat" 2>/dev/null; do :; done
  iptables -w -t nat -F "$nat" 2>/dev/null || true
  iptables -w -t nat -X "$nat" 2>/dev/null || true
  if ip link show "$bridge" >/dev/null 2>&1; then
    ip link del "$bridge" || log "could not delete bridge $bridge"
  fi
  rm -f "$STATE/bridge-$bridge.created-by" "$STATE/bridge-$bridge.owner"
  # Put ip_forward back once no run of ours is left.
  if [[ -e "$STATE/ip_forward.orig" ]] && ! compgen -G "$REGISTRY/*" >/dev/null; then
    cat "$STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
    rm -f "$STATE/ip_forward.orig"
  fi
}

# Hosts named in the hosts' apt sources, resolved on the machine.
resolve_mirrors() {
  local rootfs="$1" h
  : >"$RUN/mirror-hosts"
  local f hosts=()
  for f in "$rootfs"/etc/apt/sources.list "$rootfs"/etc/apt/sources.list.d/*; do
    [[ -f "$f" ]] || continue
    mapfile -t -O "${#hosts[@]}" hosts < <(grep -v '^[[:space:]]*#' "$f" | grep -oE '[a-z]+://[^/[:space:]]+' |
      sed -E 's#^[a-z]+://##; s#:[0-9]+$##' || true)
  done
  for h in $(printf '%s\n' "${hosts[@]}" | sort -u); do
    getent ahostsv4 "$h" | awk -v h="$h" '$2 == "STREAM" {print $1, h}' | sort -u || true
  done >"$RUN/mirror-hosts"
  [[ -s "$RUN/mirror-hosts" ]] || log "warning: no Debian mirror resolved; apt inside hosts will not work"
}

# -------------------------------------------------------------------- hosts

write_etc_hosts() {
  # $1: file to write
  {
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    local d
    for d in "$RUN"/hosts/*/; do
      [[ -e "$d/address" ]] || continue
      printf '%s\t%s\n' "$(cat "$d/address")" "$(basename "$d")"
    done
    printf '%s\tkop-gateway\n' "$GATEWAY"
    while read -r ip h; do
      [[ -n "$ip" ]] && printf '%s\t%s\n' "$ip" "$h"
    done <"$RUN/mirror-hosts"
  } >"$1"
}

prepare_host() {
  local name="$1" index="$2" d upper addr
  d="$(hostdir "$name")"
  addr="$PREFIX.$index"
  upper="$d/upper"
  install -d "$upper" "$d/work" "$d/root"
  echo "$addr" >"$d/address"
  echo "$index" >"$d/index"
  install -d -m 755 "$upper/etc/systemd/network"
  cat >"$upper/etc/systemd/network/10-host0.network" <<EOF
[Match]
Name=host0

[Network]
Address=$addr/24
Gateway=$GATEWAY
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  printf '%s\n' "$name" >"$upper/etc/hostname"
  tr -d '-' </proc/sys/kernel/random/uuid >"$upper/etc/machine-id"
  install -d -m 700 "$upper/root/.ssh"
  install -m 600 "$RUN/id_ed25519.pub" "$upper/root/.ssh/authorized_keys"
  # The harness sends a host's commands over one shared connection (index.ts): more than sshd's
  # default of 10 may run at once.
  install -d -m 755 "$upper/etc/ssh/sshd_config.d"
  printf 'MaxSessions 64\n' >"$upper/etc/ssh/sshd_config.d/20-kop-harness-sessions.conf"
  if [[ "$KUBERNETES" == 1 ]]; then
    install -d "$d/data/containerd" "$d/data/kubelet" "$d/data/etcd"
    bash "$HERE/kubernetes-host.sh" install "$upper"
  fi
}

# A cgroup of its own for the host in every hierarchy the supervisor is in (v1 controllers, the
# named systemd hierarchy, the unified one); the supervisor moves in, nspawn inherits it.
enter_own_cgroups() {
  local name="$1" d="$2" key ctrls path dir lines
  key="kop-$(run_key "$RUN" | cut -c1-8)-$name"
  : >"$d/cgroups"
  # Read it whole first: it changes as the process moves.
  mapfile -t lines </proc/self/cgroup
  while IFS=: read -r _ ctrls path; do
    case "$ctrls" in
      "") if mountpoint -q /sys/fs/cgroup/unified; then dir=/sys/fs/cgroup/unified; else dir=/sys/fs/cgroup; fi ;;
      name=*) dir="/sys/fs/cgroup/${ctrls#name=}" ;;
      *) dir="/sys/fs/cgroup/$ctrls" ;;
    esac
    dir="${dir}${path%/}/$key"
    [[ -d "${dir%/*}" ]] || continue
    mkdir -p "$dir" 2>/dev/null || continue
    if [[ -e "$dir/cpuset.cpus" && -z "$(cat "$dir/cpuset.cpus")" ]]; then
      cat "${dir%/*}/cpuset.cpus" >"$dir/cpuset.cpus"
      cat "${dir%/*}/cpuset.mems" >"$dir/cpuset.mems"
    fi
    echo "$BASHPID" >"$dir/cgroup.procs"
    echo "$dir" >>"$d/cgroups"
  done < <(printf '%s\n' "${lines[@]}")
}

# Removes a stopped host's cgroups, deepest first (what the kubelet and systemd made inside).
remove_own_cgroups() {
  local d="$1" dir
  [[ -s "$d/cgroups" ]] || return 0
  while read -r dir; do
    [[ -d "$dir" ]] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done <"$d/cgroups"
  rm -f "$d/cgroups"
  return 0
}

mount_overlay() {
  local d="$1"
  mountpoint -q "$d/root" && return 0
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/root"
}

unmount_overlay() {
  local d="$1" i
  for i in 1 2 3 4 5; do
    mountpoint -q "$d/root" || return 0
    umount "$d/root" 2>/dev/null && return 0
    sleep 0.5
  done
  umount -l "$d/root" || log "could not unmount $d/root"
}

# Runs in the background (setsid) for each booted host: starts nspawn and
# restarts it when the host reboots itself (nspawn exits 133 then).
supervise() {
  local name="$1" d rc
  d="$(hostdir "$name")"
  # Hold no descriptor of whoever started us (pipes, locks).
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2 && fd != 255)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  echo "$BASHPID" >"$d/supervisor.pid"
  enter_own_cgroups "$name" "$d"
  # shellcheck disable=SC2206 # intended word splitting of extra args
  local extra=(${KOP_HOSTS_NSPAWN_ARGS:-})
  if [[ "$KUBERNETES" == 1 ]]; then
    # @keyring: runc gives each container its own session keyring, and nspawn's default seccomp
    # filter refuses keyctl with EPERM ("unable to join session keyring" on every pod sandbox).
    extra+=(--capability=all --system-call-filter=@keyring --bind=/dev/kmsg
      --bind="$d/data/containerd:/var/lib/containerd" --bind="$d/data/kubelet:/var/lib/kubelet" --bind="$d/data/etcd:/var/lib/etcd")
  fi
  while :; do
    systemd-nspawn \
      --directory="$d/root" \
      --machine="$(machine_of "$name")" \
      --register=no --keep-unit --boot \
      --network-bridge="$BRIDGE" \
      --resolv-conf=off --timezone=off --link-journal=no \
      --console=read-only \
      --setenv=KOP_HOSTS_MARKER="$RUN/$name" \
      "${extra[@]}" </dev/null >>"$d/console.log" 2>&1 &
    echo "$!" >"$d/nspawn.pid"
    rc=0
    wait "$!" || rc=$?
    echo "$rc" >"$d/nspawn.exit"
    if [[ $rc -eq 133 && ! -e "$d/stopping" ]]; then
      echo "--- host rebooted itself; starting it again ---" >>"$d/console.log"
      continue
    fi
    break
  done
  rm -f "$d/nspawn.pid" "$d/supervisor.pid"
}

boot_host() {
  local name="$1" d i
  d="$(hostdir "$name")"
  if pid_alive "$(read_pid "$d/nspawn.pid")"; then
    log "$name is already running"
    return 0
  fi
  rm -f "$d/stopping" "$d/nspawn.pid" "$d/nspawn.exit"
  mount_overlay "$d"
  # The overlay is the host's disk; keep its /etc/hosts in step with the run.
  write_etc_hosts "$d/root/etc/hosts"
  now_ms >"$d/boot-started-ms"
  printf -- '--- boot %s ---\n' "$(date -u +%FT%TZ)" >>"$d/console.log"
  KOP_HOSTS_RUN="$RUN" KOP_HOSTS_BRIDGE="$BRIDGE" KOP_HOSTS_PREFIX="$PREFIX" ROOTFS="$ROOTFS" KUBERNETES="$KUBERNETES" \
    setsid "$BASH" "$HERE/hosts.sh" _supervise "$name" </dev/null >/dev/null 2>&1 7>&- 8>&- &
  for i in $(seq 1 100); do
    [[ -s "$d/nspawn.pid" ]] && break
    sleep 0.05
    [[ $i -lt 100 ]] || die "$name: nspawn did not start; see $d/console.log"
  done
}

wait_ssh() {
  local name="$1" d addr deadline started ready pid
  d="$(hostdir "$name")"
  addr="$(cat "$d/address")"
  deadline=$(($(date +%s) + BOOT_TIMEOUT))
  while :; do
    if ssh -i "$RUN/id_ed25519" "${SSH_OPTS[@]}" -o ConnectTimeout=1 "root@$addr" true 2>/dev/null; then
      break
    fi
    pid="$(read_pid "$d/nspawn.pid")"
    if ! pid_alive "$pid"; then
      tail -n 40 "$d/console.log" >&2 || true
      die "$name: systemd-nspawn exited (code $(cat "$d/nspawn.exit" 2>/dev/null || echo '?')) before SSH answered; log $d/console.log"
    fi
    if (($(date +%s) >= deadline)); then
      tail -n 40 "$d/console.log" >&2 || true
      die "$name: no SSH answer on $addr after ${BOOT_TIMEOUT}s; log $d/console.log"
    fi
    sleep 0.2
  done
  started="$(cat "$d/boot-started-ms")"
  ready="$(now_ms)"
  echo "$((ready - started))" >"$d/boot-ms"
  log "$name ($addr) answers SSH after $(((ready - started) / 1000)).$(printf '%03d' $(((ready - started) % 1000)))s"
}

# Powers a host off: SIGTERM to its own nspawn (clean shutdown), then SIGKILL
# to whatever is left of the container, then unmounts its overlay.
halt_host() {
  local name="$1" timeout="${2:-30}" d pid sup i pids
  d="$(hostdir "$name")"
  [[ -d "$d" ]] || return 0
  touch "$d/stopping"
  pid="$(read_pid "$d/nspawn.pid")"
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log "$name: nspawn $pid ignored SIGTERM for ${timeout}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Anything still running inside (nspawn killed, or died on its own).
  for i in 1 2 3 4 5 6 7 8 9 10; do
    mapfile -t pids < <(container_inits "$RUN/$name")
    ((${#pids[@]})) || break
    [[ $i -eq 1 ]] && log "$name: killing ${#pids[@]} leftover container process(es)"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.2
  done
  sup="$(read_pid "$d/supervisor.pid")"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pid_alive "$sup" || break
    sleep 0.1
  done
  if pid_alive "$sup"; then kill -KILL "$sup" 2>/dev/null || true; fi
  rm -f "$d/supervisor.pid" "$d/nspawn.pid"
  remove_own_cgroups "$d"
  if [[ -e "$d/index" ]] && ip link show "$(veth_of "$name")" >/dev/null 2>&1; then
    ip link del "$(veth_of "$name")" 2>/dev/null || true
  fi
  unmount_overlay "$d"
}

# --------------------------------------------------------------------- runs

load_run() {
  [[ -e "$RUN/run.env" ]] || die "no run in $RUN (nothing was brought up there)"
  # shellcheck disable=SC1091
  source "$RUN/run.env"
  BRIDGE="$RUN_BRIDGE"
  PREFIX="$RUN_PREFIX"
  GATEWAY="$PREFIX.1"
  SUBNET="$PREFIX.0/24"
  ROOTFS="$RUN_ROOTFS"
  KUBERNETES="${RUN_KUBERNETES:-0}"
  FWD_CHAIN="KOP-FWD-$BRIDGE"
  NAT_CHAIN="KOP-NAT-$BRIDGE"
}

owner_alive() {
  # $1: run dir
  local env="$1/run.env" pid start
  [[ -e "$env" ]] || return 1
  pid="$(sed -n 's/^RUN_OWNER_PID=//p' "$env")"
  start="$(sed -n 's/^RUN_OWNER_START=//p' "$env")"
  [[ "$pid" == 0 || -z "$pid" ]] && return 0
  # A zombie (killed, not yet reaped) owner is gone too.
  pid_alive "$pid" && [[ "$(pid_start_time "$pid")" == "$start" ]] &&
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

init_run() {
  install -d -m 755 "$STATE" "$REGISTRY"
  if [[ -e "$RUN/run.env" ]]; then
    local want_bridge="$BRIDGE" want_prefix="$PREFIX"
    load_run
    [[ "$BRIDGE" == "$want_bridge" && "$PREFIX" == "$want_prefix" ]] ||
      die "run $RUN uses bridge $BRIDGE ($PREFIX.0/24); down it first"
    return 0
  fi
  local owner="${KOP_HOSTS_OWNER_PID:-0}" start=""
  [[ "$owner" == 0 ]] || start="$(pid_start_time "$owner")"
  ROOTFS="$(bash "$HERE/rootfs.sh" | tail -n1)"
  [[ -d "$ROOTFS" ]] || die "rootfs.sh did not produce a rootfs"
  cat >"$RUN/run.env" <<EOF
RUN_BRIDGE=$BRIDGE
RUN_PREFIX=$PREFIX
RUN_ROOTFS=$ROOTFS
RUN_OWNER_PID=$owner
RUN_OWNER_START=$start
RUN_KUBERNETES=${KOP_HOSTS_KUBERNETES:-0}
EOF
  rm -f "$RUN/id_ed25519" "$RUN/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C "kop-test-hosts@$(date +%s)" -f "$RUN/id_ed25519"
  install -d "$RUN/hosts"
}

json() {
  local first=1 d name addr ms
  printf '{\n  "run": "%s",\n  "bridge": "%s",\n  "gateway": "%s",\n  "subnet": "%s",\n  "privateKeyPath": "%s",\n  "hosts": [' \
    "$RUN" "$BRIDGE" "$GATEWAY" "$SUBNET" "$RUN/id_ed25519"
  while read -r _ name; do
    d="$(hostdir "$name")"
    addr="$(cat "$d/address")"
    ms="$(cat "$d/boot-ms" 2>/dev/null || echo null)"
    ((first)) || printf ','
    first=0
    printf '\n    {"name": "%s", "address": "%s", "user": "root", "port": 22, "privateKeyPath": "%s", "veth": "%s", "running": %s, "bootMs": %s}' \
      "$name" "$addr" "$RUN/id_ed25519" "$(veth_of "$name")" "$(pid_alive "$(read_pid "$d/nspawn.pid")" && echo true || echo false)" "$ms"
  done < <(for d in "$RUN"/hosts/*/; do [[ -e "$d/index" ]] && printf '%s %s\n' "$(cat "$d/index")" "$(basename "$d")"; done | sort -n)
  printf '\n  ]\n}\n'
}

# ----------------------------------------------------------------- commands

cmd_up() {
  (($#)) || die "usage: hosts.sh up NAME..."
  require_root
  local name index names=()
  for name in "$@"; do valid_name "$name"; done
  with_lock
  init_run
  resolve_mirrors "$ROOTFS"
  global_lock
  ln -sfn "$RUN" "$REGISTRY/$(run_key "$RUN")"
  machine_setup_network
  if [[ "$KUBERNETES" == 1 ]]; then bash "$HERE/kubernetes-host.sh" machine; fi
  # Addresses in use by any run on this bridge.
  local used=() r runs=("$RUN")
  mapfile -t -O 1 runs < <(other_runs_on_bridge "$BRIDGE")
  for r in "${runs[@]}"; do
    compgen -G "$r/hosts/*/index" >/dev/null && mapfile -t -O "${#used[@]}" used < <(cat "$r"/hosts/*/index)
  done
  index=$FIRST_HOST
  for name in "$@"; do
    if [[ -e "$(hostdir "$name")/index" ]]; then
      names+=("$name")
      continue
    fi
    # A lookup without a pipe: under pipefail, `printf | grep -q` fails now and then (grep leaves at
    # its match, printf meets a closed pipe), which took an address in use for a free one.
    while [[ " ${used[*]} " == *" $index "* ]]; do index=$((index + 1)); done
    ((index < 255)) || die "no address left in $SUBNET"
    if ip link show "vb-$(machine_of_index "$index")" >/dev/null 2>&1; then
      die "interface vb-$(machine_of_index "$index") already exists on this machine but no run holds address $PREFIX.$index: a crashed run's leftover (bash $HERE/hosts.sh down --all removes it)"
    fi
    prepare_host "$name" "$index"
    used+=("$index")
    names+=("$name")
  done
  global_unlock
  for name in "${names[@]}"; do boot_host "$name"; done
  # Every host's /etc/hosts lists all hosts of the run, including later ones.
  for name in "${names[@]}"; do
    write_etc_hosts "$(hostdir "$name")/root/etc/hosts"
  done
  for name in "${names[@]}"; do wait_ssh "$name"; done
  for d in "$RUN"/hosts/*/; do
    mountpoint -q "$d/root" && write_etc_hosts "$d/root/etc/hosts"
  done
  json
}

cmd_down() {
  local all=0
  [[ "${1:-}" == "--all" ]] && all=1
  require_root
  if ((all)); then
    local r
    for r in "$REGISTRY"/*; do
      [[ -L "$r" ]] || continue
      if [[ -e "$r/run.env" ]]; then
        KOP_HOSTS_RUN="$(readlink "$r")" bash "$HERE/hosts.sh" down || true
      fi
      rm -f "$r"
    done
    sweep_orphans
    return 0
  fi
  if [[ ! -e "$RUN/run.env" ]]; then
    log "no run in $RUN; nothing to do"
    return 0
  fi
  with_lock 20 force
  load_run
  local d name
  # Power off all hosts at once: SIGTERM to every nspawn first, then wait.
  for d in "$RUN"/hosts/*/; do
    [[ -d "$d" ]] || continue
    touch "$d/stopping"
    if pid_alive "$(read_pid "$d/nspawn.pid")"; then kill -TERM "$(read_pid "$d/nspawn.pid")" 2>/dev/null || true; fi
  done
  for d in "$RUN"/hosts/*/; do
    [[ -d "$d" ]] || continue
    name="$(basename "$d")"
    halt_host "$name" 30
  done
  global_lock
  rm -f "$REGISTRY/$(run_key "$RUN")"
  if [[ -z "$(other_runs_on_bridge "$BRIDGE")" ]]; then
    machine_teardown_network "$BRIDGE"
  else
    log "bridge $BRIDGE stays: other runs still use it"
  fi
  global_unlock
  # Only remove what this script made: host dirs (overlays are unmounted) and
  # the run's files.
  local leftover=0
  for d in "$RUN"/hosts/*/; do
    [[ -d "$d" ]] || continue
    if mountpoint -q "$d/root"; then leftover=1; continue; fi
    rm -rf --one-file-system "$d"
  done
  if ((leftover)); then
    die "some overlays in $RUN are still mounted"
  fi
  rm -rf --one-file-system "$RUN"
  log "run $RUN is down"
}

# Last resort for runs whose state is gone: containers whose nspawn carries our
# marker, overlays named like ours, our iptables chains and bridges.
sweep_orphans() {
  local p cmd pids=() m br
  for p in /proc/[0-9]*; do
    cmd="$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" || continue
    if [[ "$cmd" == *systemd-nspawn*--setenv=KOP_HOSTS_MARKER=* ]]; then
      pids+=("${p#/proc/}")
    elif [[ "$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null)" == *KOP_HOSTS_MARKER=* ]] &&
      grep -qE '^NSpid:.*[[:space:]]1$' "$p/status" 2>/dev/null; then
      pids+=("${p#/proc/}")
    fi
  done
  if ((${#pids[@]})); then
    log "killing orphan test host processes: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    sleep 3
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  while read -r m; do
    log "unmounting orphan overlay $m"
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done < <(awk '$3 == "overlay" && $4 ~ /upperdir=[^,]*\/hosts\/[^,\/]+\/upper/ && $2 ~ /\/hosts\/[^\/]+\/root$/ {print $2}' /proc/mounts)
  while read -r br; do
    machine_teardown_network "$br"
  done < <(iptables -w -S 2>/dev/null | sed -n 's/^-N KOP-FWD-//p')
  if ip link show "$BRIDGE" >/dev/null 2>&1; then machine_teardown_network "$BRIDGE"; fi
  rm -f "$STATE"/bridge-*.owner
  if [[ -e "$STATE/ip_forward.orig" ]]; then
    cat "$STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
    rm -f "$STATE/ip_forward.orig"
  fi
}

cmd_gc() {
  require_root
  local r target
  for r in "$REGISTRY"/*; do
    [[ -L "$r" ]] || continue
    target="$(readlink "$r")"
    if [[ ! -e "$target/run.env" ]]; then
      rm -f "$r"
    elif ! owner_alive "$target"; then
      log "run $target: owner is gone; tearing it down"
      KOP_HOSTS_RUN="$target" bash "$HERE/hosts.sh" down || true
    fi
  done
}

cmd_stop() {
  [[ $# -eq 1 ]] || die "usage: hosts.sh stop NAME"
  require_root
  with_lock
  load_run
  [[ -e "$(hostdir "$1")/index" ]] || die "no host $1 in $RUN"
  halt_host "$1" 30
  log "$1 is powered off"
}

cmd_start() {
  [[ $# -eq 1 ]] || die "usage: hosts.sh start NAME"
  require_root
  with_lock
  load_run
  [[ -e "$(hostdir "$1")/index" ]] || die "no host $1 in $RUN"
  boot_host "$1"
  wait_ssh "$1"
}

cmd_link() {
  [[ $# -eq 2 && ( "$2" == up || "$2" == down ) ]] || die "usage: hosts.sh link NAME up|down"
  require_root
  load_run
  [[ -e "$(hostdir "$1")/index" ]] || die "no host $1 in $RUN"
  ip link set "$(veth_of "$1")" "$2"
  echo "$2" >"$(hostdir "$1")/link"
}

cmd_ssh() {
  (($#)) || die "usage: hosts.sh ssh NAME [CMD...]"
  load_run
  local name="$1"
  shift
  exec ssh -i "$RUN/id_ed25519" "${SSH_OPTS[@]}" "root@$(cat "$(hostdir "$name")/address")" "$@"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    gc) cmd_gc ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    link) cmd_link "$@" ;;
    status) load_run; json ;;
    ssh) cmd_ssh "$@" ;;
    _supervise) supervise "$@" ;;
    *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

ROOTFS="${ROOTFS:-}"
KUBERNETES="${KUBERNETES:-${KOP_HOSTS_KUBERNETES:-0}}"
# On one line: bash reads a script as it runs, so nothing after this is read
# even if the file is replaced while a long-lived supervisor runs from it.
main "$@"; exit $?
