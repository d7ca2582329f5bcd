#!/usr/bin/env bash
# Installs or checks everything the test tiers need on a Debian 12/13 or Ubuntu 22.04/24.04
# machine: Node.js in package.json's range, Go as new as the tools' go.mod files ask for, the real
# tools that check rendered files (unit tier) and the systemd-nspawn test-host machinery (hosts
# tier). Run it as yourself: it uses sudo for apt-get when it is not root. Idempotent; stops at
# the first thing it cannot fix, saying what to do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  printf 'install-test-deps: %s\n' "$*" >&2
  exit 1
}

# Versions as sortable text: "go1.24.0" / "1.24" -> "1.24.0".
normalize() {
  local v=${1#go}
  v=${v%%[!0-9.]*}
  case $v in *.*.*) ;; *.*) v=$v.0 ;; *) v=$v.0.0 ;; esac
  printf '%s\n' "$v"
}
at_least() { [ "$(printf '%s\n%s\n' "$(normalize "$2")" "$(normalize "$1")" | sort -V | head -n1)" = "$(normalize "$2")" ]; }

# --- Node.js: the range every pinned package accepts (scripts/check-node.cjs reads package.json).
command -v node >/dev/null || fail "Node.js is not installed: install Node.js $(sed -n 's/.*"node": "\(.*\)".*/\1/p' package.json) and npm, then run this again"
command -v npm >/dev/null || fail "npm is not installed: install the npm that comes with your Node.js, then run this again"
node scripts/check-node.cjs

# --- Root for apt-get.
SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || fail "not running as root and sudo is not installed: run this script as root once"
  SUDO=(sudo)
fi
apt_updated=""
apt_update() {
  [ -n "$apt_updated" ] && return
  "${SUDO[@]}" apt-get update -q
  apt_updated=1
}

# --- Go: the newest `go` line of tools/*/go.mod (the kubeadm config validator, the CRI probe).
go_needed=$(sed -n 's/^go \([0-9.]*\)$/\1/p' tools/*/go.mod | sort -V | tail -n1)
[ -n "$go_needed" ] || fail "no 'go' line found in tools/*/go.mod"
packages=(
  shellcheck containerd haproxy keepalived etcd-server etcd-client openssl prometheus prometheus-alertmanager
  systemd-container debootstrap openssh-client iptables iproute2 dpkg-dev apt-utils gnupg python3 python3-pip curl util-linux
  python3-dnf python3-firewall docker-registry skopeo busybox-static
  # runc's build (tools/runc, cgo with seccomp, statically linked like its release binary).
  gcc libc6-dev libseccomp-dev pkg-config
)
go_version() { "$1" env GOVERSION 2>/dev/null || "$1" version | awk '{print $3}'; }
if command -v go >/dev/null && at_least "$(go_version go)" "$go_needed"; then
  echo "Go: $(go_version go) (need $go_needed or newer)"
else
  have=$(command -v go >/dev/null && go_version go || echo "none")
  apt_update
  candidate=$(apt-cache policy golang-go 2>/dev/null | sed -n 's/^ *Candidate: *\(.*\)$/\1/p')
  candidate=${candidate#*:}   # drop the epoch: "2:1.19~1" -> "1.19~1"
  if [ "$have" = none ] && [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && at_least "${candidate%%[~+-]*}" "$go_needed"; then
    packages+=(golang-go)
  else
    others=""
    for g in /usr/local/go/bin/go /usr/lib/go-1.*/bin/go; do [ -x "$g" ] && others+="$g ($(go_version "$g")) "; done
    fail "the tests build the Go tools in tools/ with Go $go_needed or newer (their go.mod files); found: $have on PATH," \
      "and this distribution's golang-go is ${candidate:-not available}." \
      "Install a newer Go (the go.dev/dl archive into /usr/local/go, or your distribution's backports golang-1.2x package)" \
      "and put its bin directory first on PATH${others:+ (present here: $others)}." \
      "The build fetches Go modules: the machine needs a Go module proxy (GOPROXY) it can reach."
  fi
fi

# --- Debian packages.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_update
  # haproxy/keepalived/etcd packages start services where systemd runs; the tests only need the binaries.
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [[ " ${missing[*]} " == *" golang-go "* ]]; then
  at_least "$(go_version go)" "$go_needed" || fail "golang-go installed $(go_version go), older than the Go $go_needed the tests need"
  echo "Go: $(go_version go) from golang-go"
fi

# --- The add-on manifests are validated against the Kubernetes OpenAPI schemas this package ships.
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  pip=(python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0)
  if [ "$(id -u)" != 0 ]; then pip+=(--user); fi
  "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages ||
    fail "pip could not install kubernetes-validate==1.37.0: the machine needs a Python package index it can reach"
  python3 -c 'import kubernetes_validate' || fail "kubernetes-validate installed but python3 cannot import it (is ~/.local on python3's path?)"
fi
echo "test dependencies present: node $(node --version), Go $(go_version go), ${packages[*]}, kubernetes-validate"
