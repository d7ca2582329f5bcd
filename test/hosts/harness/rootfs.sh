#!/usr/bin/env bash
# Builds (once) the cached Debian root filesystem (12 by default, or 13) that every test host boots
# from as a copy-on-write overlay.  Idempotent: a finished rootfs is recognised
# by a stamp named after a hash of this recipe, so editing the recipe builds a
# new rootfs next to the old one instead of changing a lower dir in use.
#
# Usage: rootfs.sh [--path]
#   (no args)  build if needed, then print the rootfs path on the last line
#   --path     print the path the current recipe would use, build nothing
#
# Environment:
#   KOP_HOSTS_CACHE   cache directory (default /var/cache/kubeadm-on-pulumi/hosts)
#   KOP_HOSTS_MIRROR  Debian mirror URL (default: the machine's own apt source)
#   KOP_HOSTS_SUITE   Debian suite of the hosts: bookworm (Debian 12, default) or trixie (Debian 13)
set -euo pipefail

CACHE="${KOP_HOSTS_CACHE:-/var/cache/kubeadm-on-pulumi/hosts}"
SUITE="${KOP_HOSTS_SUITE:-bookworm}"
case "$SUITE" in bookworm|trixie) ;; *) printf '[rootfs] ERROR: KOP_HOSTS_SUITE=%s: use bookworm or trixie\n' "$SUITE" >&2; exit 1 ;; esac

# What a typical minimal cloud VM has.  Keep this list sorted; it is part of
# the recipe hash.
PACKAGES=(
  ca-certificates
  curl
  dbus
  gnupg
  iproute2
  iptables
  iputils-ping
  kmod
  less
  libpam-systemd
  netbase
  openssh-server
  procps
  sudo
  systemd
  systemd-sysv
  tzdata
)

log() { printf '[rootfs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[rootfs] ERROR: %s\n' "$*" >&2; exit 1; }

recipe_hash() {
  # The recipe is this file plus the package list; the mirror is not part of
  # it (a different mirror serves the same packages).
  { cat "${BASH_SOURCE[0]}"; printf '%s\n' "${PACKAGES[@]}"; } | sha256sum | cut -c1-12
}

ROOTFS="$CACHE/rootfs-$SUITE-$(recipe_hash)"
if [[ "${1:-}" == "--path" ]]; then
  printf '%s\n' "$ROOTFS"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap and systemd-nspawn need it)"

ensure_prereqs() {
  local missing=() cmd pkg
  local -A want=(
    [systemd-nspawn]=systemd-container
    [debootstrap]=debootstrap
    [ssh]=openssh-client
    [ssh-keygen]=openssh-client
    [iptables]=iptables
    [ip]=iproute2
    [nsenter]=util-linux
    [flock]=util-linux
    [dpkg-deb]=dpkg
    [dpkg-scanpackages]=dpkg-dev
    [gpg]=gnupg
  )
  for cmd in "${!want[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
  done
  # debian-archive-keyring lets debootstrap verify the mirror's Release file.
  [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
  if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing prerequisites: ${missing[*]}"
    if ! apt-get install -y "${missing[@]}" >&2; then
      log "apt-get install failed; running apt-get update once and retrying"
      apt-get update >&2
      apt-get install -y "${missing[@]}" >&2
    fi
  fi
  for pkg in systemd-nspawn debootstrap ssh iptables; do
    command -v "$pkg" >/dev/null 2>&1 || die "prerequisite $pkg still missing after apt-get install"
  done
}

# The machine's own Debian mirror: first URI of an enabled deb822 source (or
# one-line source) that serves $SUITE.
machine_mirror() {
  local f
  if [[ -n "${KOP_HOSTS_MIRROR:-}" ]]; then
    printf '%s\n' "$KOP_HOSTS_MIRROR"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; ok=0; enabled=1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", $i); uris=$i }
          if ($i ~ /^Suites:/)  { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
          if ($i ~ /^Enabled:[ \t]*no/) enabled=0
        }
        if (ok && enabled && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done | head -n1 | grep . && return
  grep -hE "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+://[^[:space:]]+[[:space:]]+${SUITE}[[:space:]]" \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1; exit}' | grep . && return
  # A machine on another Debian release: its Debian mirror serves every suite.
  local base
  base=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -E '^(URIs:|deb[[:space:]])' | grep -oE '[a-z]+://[^][:space:]]+/debian/?([[:space:]]|$)' | head -n1 | tr -d '[:space:]' || true)
  [[ -n "$base" ]] && { printf '%s\n' "$base"; return; }
  die "no enabled apt source for $SUITE found on this machine; set KOP_HOSTS_MIRROR"
}

# Copies the machine's enabled apt sources (only ones for $SUITE: the hosts are
# Debian $SUITE) and apt.conf.d into the rootfs so apt works inside a host.
copy_apt_config() {
  local root="$1" f
  rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    grep -qw "$SUITE" "$f" || continue
    cp "$f" "$root/etc/apt/sources.list.d/"
  done
  if ! compgen -G "$root/etc/apt/sources.list.d/*" >/dev/null; then
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$root/etc/apt/sources.list"
  fi
  for f in /etc/apt/apt.conf.d/*; do
    [[ -f "$f" ]] && cp "$f" "$root/etc/apt/apt.conf.d/"
  done
  # Keys the copied sources refer to (Signed-By paths) must exist inside too.
  # (None to copy when the suite's source is the one-line sources.list written above.)
  { grep -hoE '(Signed-By:|signed-by=)[[:space:]]*/[^] ]+' "$root"/etc/apt/sources.list.d/* 2>/dev/null || true; } |
    sed -E 's/^(Signed-By:|signed-by=)[[:space:]]*//' | sort -u | while read -r key; do
      if [[ -f "$key" && ! -e "$root$key" ]]; then
        mkdir -p "$root$(dirname "$key")"
        cp "$key" "$root$key"
      fi
    done
}

configure_rootfs() {
  local root="$1"
  log "configuring rootfs"
  copy_apt_config "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || rm -f "$root/etc/resolv.conf"

  # Root logs in with a key only; the key is installed per run by hosts.sh.
  install -d -m 700 "$root/root/.ssh"
  install -d -m 755 "$root/etc/ssh/sshd_config.d"
  cat >"$root/etc/ssh/sshd_config.d/10-kop-test-host.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF

  # Every host gets its own SSH host keys and machine-id at first boot, as a
  # cloud VM does; the cached rootfs carries none.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/systemd/system/kop-ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
DefaultDependencies=no
Before=ssh.service
After=local-fs.target
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
EOF
  install -d "$root/etc/systemd/system/ssh.service.wants"
  ln -sf ../kop-ssh-host-keys.service "$root/etc/systemd/system/ssh.service.wants/kop-ssh-host-keys.service"
  install -d "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf /lib/systemd/system/ssh.service "$root/etc/systemd/system/multi-user.target.wants/ssh.service"
  : >"$root/etc/machine-id"

  # Static addressing with systemd-networkd; hosts.sh writes the per-host
  # 10-host0.network into the host's upper dir.
  ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  install -d "$root/etc/systemd/system/sockets.target.wants"
  ln -sf /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
  # Do not wait for "online": the host is online once host0 has its address.
  ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
  # Units that only make noise or slow the boot in a container.
  local unit
  for unit in getty@tty1.service console-getty.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  # journald: keep logs in memory and small.
  install -d "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' >"$root/etc/systemd/journald.conf.d/10-kop.conf"

  printf 'debian\n' >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  # No fstab entries: nspawn sets up the mounts.
  : >"$root/etc/fstab"

  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/* 2>/dev/null || true
}

main() {
  local start end mirror tmp
  start=$(date +%s)
  install -d -m 755 "$CACHE"
  exec 9>"$CACHE/.rootfs.lock"
  flock 9
  if [[ -e "$ROOTFS/.kop-rootfs-complete" ]]; then
    log "cached rootfs is ready ($(($(date +%s) - start))s): $ROOTFS"
    printf '%s\n' "$ROOTFS"
    return
  fi
  ensure_prereqs
  mirror="$(machine_mirror)"
  MIRROR="$mirror"
  tmp="$ROOTFS.partial"
  rm -rf "$tmp"
  log "debootstrap $SUITE from $mirror into $tmp (takes minutes)"
  local IFS=,
  debootstrap --variant=minbase --include="${PACKAGES[*]}" "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed; full log: $CACHE/debootstrap.log"; }
  unset IFS
  log "debootstrap done after $(($(date +%s) - start))s"
  configure_rootfs "$tmp"
  date -u +%FT%TZ >"$tmp/.kop-rootfs-complete"
  mv "$tmp" "$ROOTFS"
  # Older rootfs builds are left alone: a running host may use one as its
  # lower dir.  Remove them by hand (or delete the whole cache) when idle.
  end=$(date +%s)
  log "rootfs built in $((end - start))s: $ROOTFS"
  printf '%s\n' "$ROOTFS"
}

MIRROR=""
main "$@"
