#!/usr/bin/env bash
# What a real kubelet needs inside a systemd-nspawn test host on this kind of machine (a cgroup v1
# "hybrid" machine whose PID 1 is not systemd, /proc/sys read-only outside net). These are the
# test harness's workarounds, never the program's: real user hosts are cgroup v2 systemd machines.
#
#   kubernetes-host.sh machine        kernel modules the hosts' kubelets and kube-proxy need, loaded
#                                     on the machine (a container cannot load modules)
#   kubernetes-host.sh install UPPER  writes the boot unit into a host's overlay upper directory
set -euo pipefail

BOOT_SCRIPT=/usr/local/sbin/kop-test-host-kubernetes
UNIT=kop-test-host-kubernetes.service

cmd_machine() {
  # Loaded when they are modules; built into some kernels (then modprobe has nothing to do).
  modprobe -a overlay br_netfilter vxlan nf_conntrack 2>/dev/null || true
  local problems=""
  grep -qw overlay /proc/filesystems || problems="$problems overlayfs (containerd's snapshotter);"
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || problems="$problems br_netfilter (pod traffic through kube-proxy's rules);"
  [ -d /sys/module/vxlan ] || problems="$problems vxlan (flannel);"
  [ -z "$problems" ] || { echo "kubernetes-host.sh: this machine's kernel lacks:$problems" >&2; exit 1; }
  # inotify limits are per user across the whole machine, and every host's systemd, containerd and
  # kubelet are root here: with the default 128 instances a cluster of nine hosts runs out and the
  # kubelets die with "inotify_init: too many open files" (kind asks for the same raise).
  raise_sysctl fs.inotify.max_user_instances 8192
  raise_sysctl fs.inotify.max_user_watches 524288
}

# raise_sysctl KEY MIN: sets KEY to MIN when it is lower (never lowers what the machine has).
raise_sysctl() {
  local file="/proc/sys/${1//.//}" current
  current=$(cat "$file")
  if [ "$current" -lt "$2" ]; then echo "$2" >"$file"; fi
}

cmd_install() {
  local upper="$1"
  install -d "$upper/usr/local/sbin" "$upper/etc/systemd/system/sysinit.target.wants"
  cat >"$upper$BOOT_SCRIPT" <<'EOF'
#!/bin/sh
# Test harness (kubeadm-on-pulumi): makes this systemd-nspawn container able to run a kubelet.
set -eu
# nspawn mounts the cgroup v1 controllers read-only and `mount -o remount,rw` fails ("busy"):
# mount each one again read-write (the container's cgroup namespace keeps it to this host).
reexec=0
for dir in /sys/fs/cgroup/*; do
  [ -L "$dir" ] && continue
  name=${dir##*/}
  case "$name" in unified|systemd) continue ;; esac
  grep -q " $dir cgroup ro," /proc/mounts || continue
  umount "$dir"
  mount -t cgroup -o "rw,nosuid,nodev,noexec,relatime,$name" cgroup "$dir"
  reexec=1
done
if grep -q " /sys/fs/cgroup tmpfs ro," /proc/mounts; then mount -o remount,rw /sys/fs/cgroup; fi
# The kubelet checks these and would set them; /proc/sys outside net is read-only here, so files
# holding the values are bind-mounted over the entries (the machine's own settings stay as they are).
mkdir -p /run/kop-sysctl
for kv in vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key=${kv%%=*}; value=${kv#*=}
  [ "$(cat "/proc/sys/$key")" = "$value" ] && continue
  file="/run/kop-sysctl/$(echo "$key" | tr / .)"
  echo "$value" >"$file"
  mount --bind "$file" "/proc/sys/$key"
done
mount --make-rshared /
# systemd must see the read-write controllers before it starts containerd and the kubelet.
if [ "$reexec" = 1 ]; then systemctl daemon-reexec; fi
EOF
  chmod 755 "$upper$BOOT_SCRIPT"
  cat >"$upper/etc/systemd/system/$UNIT" <<EOF
[Unit]
Description=Test harness: what a kubelet needs inside systemd-nspawn on this machine
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target containerd.service kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$BOOT_SCRIPT

[Install]
WantedBy=sysinit.target
EOF
  ln -sf "../$UNIT" "$upper/etc/systemd/system/sysinit.target.wants/$UNIT"
}

case "${1:-}" in
  machine) cmd_machine ;;
  install) [ $# -eq 2 ] || { echo "usage: $0 install UPPER" >&2; exit 2; }; cmd_install "$2" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
