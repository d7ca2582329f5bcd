#!/usr/bin/env bash
# Builds a signed local apt repository laid out like the real per-minor
# Kubernetes package repository, with small stand-in packages:
#
#   OUT/www/core:/stable:/v1.29/deb/{Packages,Packages.gz,Release,Release.gpg,InRelease,Release.key}
#   OUT/www/core:/stable:/v1.29/deb/amd64/{kubeadm,kubelet,kubectl,cri-tools,kubernetes-cni}_*.deb
#
# A host uses it exactly like the real one:
#   curl -fsSL BASE/v1.29/deb/Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
#   echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] BASE/v1.29/deb/ /' >/etc/apt/sources.list.d/kubernetes.list
# where BASE is http://ADDRESS:PORT/core:/stable: once OUT/www is served.
#
# Usage: fake-apt-repo.sh OUT [KUBE_VERSION...]
#   KUBE_VERSION like 1.29.13 (default: 1.29.13 1.29.14 1.30.10); each becomes
#   package version KUBE_VERSION-1.1 of kubeadm, kubelet and kubectl in the
#   repository of its minor.  Prints OUT/www on the last line.
#
# Environment:
#   KOP_K8S_ARTIFACTS="1.34.4=DIR ..."  real packages for these versions: the binaries
#                                 scripts/build-k8s-artifacts.sh built into DIR (bin/, cni/),
#                                 with the kubelet unit and drop-in the official packages
#                                 ship and their dependencies (the cluster tier)
#   KOP_FAKE_KUBELET_REAL_DEPS=1  the fake kubelet also depends on conntrack,
#                                 ethtool and socat like the real one (those
#                                 then come from the Debian mirror)
#
# The stand-in binaries answer version queries like the real ones
# (`kubeadm version -o short` prints v1.29.13, `kubectl version --client`,
# `kubelet --version`, `crictl --version`), log every other invocation to
# /var/log/fake-<tool>.log and fail, except kubelet, which runs forever
# doing nothing so `systemctl enable --now kubelet` works.
set -euo pipefail

OUT="${1:?usage: fake-apt-repo.sh OUT [KUBE_VERSION...]}"
shift
VERSIONS=("$@")
((${#VERSIONS[@]})) || VERSIONS=(1.29.13 1.29.14 1.30.10)
REV="1.1"
ARCH=amd64

log() { printf '[fake-apt-repo] %s\n' "$*" >&2; }
die() { printf '[fake-apt-repo] ERROR: %s\n' "$*" >&2; exit 1; }

for cmd in dpkg-deb dpkg-scanpackages gpg gzip sha256sum md5sum; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is missing (apt-get install -y dpkg-dev gnupg)"
done
for v in "${VERSIONS[@]}"; do
  [[ "$v" =~ ^1\.[0-9]+\.[0-9]+$ ]] || die "version '$v' is not like 1.29.13"
done

# cri-tools and kubernetes-cni versions shipped in each minor's repository.
cri_tools_version() {
  case "$1" in
    1.28) echo 1.28.0 ;; 1.29) echo 1.29.0 ;; 1.30) echo 1.30.1 ;; 1.31) echo 1.31.1 ;;
    *) echo "$1.0" ;;
  esac
}
cni_version() {
  case "$1" in
    1.28) echo 1.2.0 ;; 1.29) echo 1.3.0 ;; 1.30 | 1.31) echo 1.4.0 ;;
    *) echo 1.5.1 ;;
  esac
}

WORK="$(mktemp -d /tmp/kop-fake-apt.XXXXXX)"
GNUPGHOME="$OUT/gnupg"
export GNUPGHOME
cleanup() {
  gpgconf --homedir "$GNUPGHOME" --kill gpg-agent >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The artifact directory of a version named in KOP_K8S_ARTIFACTS, or nothing.
artifacts_of() {
  local pair
  for pair in ${KOP_K8S_ARTIFACTS:-}; do
    if [[ "${pair%%=*}" == "$1" ]]; then
      [[ -x "${pair#*=}/bin/kubeadm" ]] || die "KOP_K8S_ARTIFACTS: ${pair#*=} holds no bin/kubeadm (scripts/build-k8s-artifacts.sh v$1 builds it)"
      printf '%s\n' "${pair#*=}"
    fi
  done
}

# ------------------------------------------------------------ stand-in tools

# $1 tool, $2 kube version (1.29.13), $3 output file
write_tool() {
  local tool="$1" v="$2" f="$3" minor="${2#1.}"
  minor="${minor%%.*}"
  {
    printf '#!/bin/sh\n# Test stand-in for %s %s (kubeadm-on-Pulumi test harness); not the real tool.\n' "$tool" "v$v"
    printf 'VERSION=v%s\nMAJOR=1\nMINOR=%s\n' "$v" "$minor"
    # shellcheck disable=SC2016 # literal shell code for the stand-in
    printf '%s\n' 'INFO="{\"major\":\"$MAJOR\",\"minor\":\"$MINOR\",\"gitVersion\":\"$VERSION\",\"gitCommit\":\"0000000000000000000000000000000000000000\",\"gitTreeState\":\"clean\",\"buildDate\":\"2025-01-01T00:00:00Z\",\"goVersion\":\"go1.22.10\",\"compiler\":\"gc\",\"platform\":\"linux/amd64\"}"'
    # shellcheck disable=SC2016
    printf '%s\n' 'GOINFO="&version.Info{Major:\"$MAJOR\", Minor:\"$MINOR\", GitVersion:\"$VERSION\", GitCommit:\"0000000000000000000000000000000000000000\", GitTreeState:\"clean\", BuildDate:\"2025-01-01T00:00:00Z\", GoVersion:\"go1.22.10\", Compiler:\"gc\", Platform:\"linux/amd64\"}"'
    printf 'TOOL=%s\n' "$tool"
    cat <<'EOF'
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $TOOL $*" >>"/var/log/fake-$TOOL.log" 2>/dev/null || true; }
output=""
prev=""
for a in "$@"; do
  case "$a" in
    -o=* | --output=*) output="${a#*=}" ;;
  esac
  if [ "$prev" = "-o" ] || [ "$prev" = "--output" ]; then output="$a"; fi
  prev="$a"
done
log "$@"
EOF
    case "$tool" in
      kubeadm)
        cat <<'EOF'
case "${1:-}" in
  version)
    case "$output" in
      short) echo "$VERSION" ;;
      json) echo "{\"clientVersion\":$INFO}" ;;
      yaml) echo "clientVersion:"; echo "  gitVersion: $VERSION"; echo "  major: \"$MAJOR\""; echo "  minor: \"$MINOR\"" ;;
      *) echo "kubeadm version: $GOINFO" ;;
    esac
    exit 0 ;;
esac
echo "kubeadm $VERSION (test stand-in): '$*' is not implemented" >&2
exit 1
EOF
        ;;
      kubectl)
        cat <<'EOF'
KUSTOMIZE=v5.0.4-0.20230601165947-6ce0bf390ce3
case "${1:-}" in
  version)
    case " $* " in
      *" --client "* | *" --client=true "*)
        case "$output" in
          json) echo "{\"clientVersion\":$INFO,\"kustomizeVersion\":\"$KUSTOMIZE\"}" ;;
          yaml) echo "clientVersion:"; echo "  gitVersion: $VERSION"; echo "kustomizeVersion: $KUSTOMIZE" ;;
          *) echo "Client Version: $VERSION"; echo "Kustomize Version: $KUSTOMIZE" ;;
        esac
        exit 0 ;;
    esac
    echo "Client Version: $VERSION"
    echo "Kustomize Version: $KUSTOMIZE"
    echo "The connection to the server localhost:8080 was refused - did you specify the right host or port?" >&2
    exit 1 ;;
esac
echo "kubectl $VERSION (test stand-in): '$*' is not implemented" >&2
exit 1
EOF
        ;;
      kubelet)
        cat <<'EOF'
case " $* " in
  *" --version "* | *" --version=true "*) echo "Kubernetes $VERSION"; exit 0 ;;
esac
echo "kubelet $VERSION (test stand-in): idling instead of running pods" >&2
exec sleep infinity
EOF
        ;;
    esac
  } >"$f"
  chmod 755 "$f"
}

# $1 package, $2 version (deb), $3 staging dir, $4 depends, $5 description
build_deb() {
  local pkg="$1" ver="$2" stage="$3" deps="$4" desc="$5" out="$6"
  install -d "$stage/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$pkg" "$ver" "$ARCH"
    printf 'Maintainer: kubeadm-on-Pulumi tests <tests@kop.invalid>\n'
    [[ -n "$deps" ]] && printf 'Depends: %s\n' "$deps"
    printf 'Section: admin\nPriority: optional\nHomepage: https://kubernetes.io\n'
    if [[ -n "${REAL_BUILD:-}" ]]; then
      printf 'Description: %s\n Built from Go modules by the kubeadm-on-Pulumi test harness.\n' "$desc"
    else
      printf 'Description: %s (test stand-in)\n Small stand-in package built by the kubeadm-on-Pulumi test harness.\n' "$desc"
    fi
  } >"$stage/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip --build "$stage" "$out/${pkg}_${ver}_${ARCH}.deb" >/dev/null
}

# $1 tool, $2 kube version, $3 output file: the built binary when there is one, else the stand-in.
place_tool() {
  local real
  real="$(artifacts_of "$2")"
  if [[ -n "$real" ]]; then install -m 755 "$real/bin/$1" "$3"; else write_tool "$1" "$2" "$3"; fi
}

build_kube_packages() {
  local v="$1" dir="$2" minor stage ver kubelet_deps what="(test stand-in)"
  minor="${v%.*}"
  ver="$v-$REV"
  REAL_BUILD="$(artifacts_of "$v")"
  [[ -z "$REAL_BUILD" ]] || what=""
  stage="$WORK/kubeadm-$v"
  install -d "$stage/usr/bin" "$stage/usr/lib/systemd/system/kubelet.service.d"
  place_tool kubeadm "$v" "$stage/usr/bin/kubeadm"
  cat >"$stage/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" <<'EOF'
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
EOF
  build_deb kubeadm "$ver" "$stage" "cri-tools (>= 1.$((${minor#1.} - 1)).0)" "Command-line utility for administering a Kubernetes cluster" "$dir"

  stage="$WORK/kubelet-$v"
  install -d "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/etc/kubernetes/manifests"
  place_tool kubelet "$v" "$stage/usr/bin/kubelet"
  cat >"$stage/usr/lib/systemd/system/kubelet.service" <<EOF
[Unit]
Description=kubelet: The Kubernetes Node Agent $what
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
EOF
  kubelet_deps="iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), iproute2, mount, util-linux"
  if [[ "${KOP_FAKE_KUBELET_REAL_DEPS:-0}" == 1 || -z "$what" ]]; then kubelet_deps="$kubelet_deps, conntrack, ethtool, socat"; fi
  build_deb kubelet "$ver" "$stage" "$kubelet_deps" "Node agent for Kubernetes clusters" "$dir"

  stage="$WORK/kubectl-$v"
  install -d "$stage/usr/bin"
  place_tool kubectl "$v" "$stage/usr/bin/kubectl"
  build_deb kubectl "$ver" "$stage" "" "Command-line utility for interacting with a Kubernetes cluster" "$dir"
}

# $1 minor, $2 output dir, $3 the artifact directory of one of its versions (or nothing)
build_minor_extras() {
  local minor="$1" dir="$2" real="${3:-}" stage v p
  v="$(cri_tools_version "$minor")"
  stage="$WORK/cri-tools-$minor"
  install -d "$stage/usr/bin" "$stage/opt/cni/bin"
  REAL_BUILD="$real"
  if [[ -n "$real" ]]; then
    v="$(sed -n 's/^cri_tools=v//p' "$real/versions.env")"
    install -m 755 "$real/bin/crictl" "$stage/usr/bin/crictl"
    build_deb cri-tools "$v-$REV" "$stage" "" "Command-line utility for interacting with a container runtime" "$dir"
    v="$(sed -n 's/^cni_plugins=v//p' "$real/versions.env")"
    stage="$WORK/kubernetes-cni-$minor"
    install -d "$stage/opt/cni/bin"
    for p in bridge host-local loopback portmap; do install -m 755 "$real/cni/$p" "$stage/opt/cni/bin/$p"; done
    build_deb kubernetes-cni "$v-$REV" "$stage" "" "Binaries required to provision kubernetes container networking" "$dir"
    return 0
  fi
  printf '#!/bin/sh\n# Test stand-in for crictl v%s; not the real tool.\ncase " $* " in *" --version "* | *" -v "*) echo "crictl version v%s"; exit 0 ;; esac\necho "crictl v%s (test stand-in): not implemented" >&2\nexit 1\n' "$v" "$v" "$v" >"$stage/usr/bin/crictl"
  chmod 755 "$stage/usr/bin/crictl"
  build_deb cri-tools "$v-$REV" "$stage" "" "Command-line utility for interacting with a container runtime" "$dir"

  v="$(cni_version "$minor")"
  stage="$WORK/kubernetes-cni-$minor"
  install -d "$stage/opt/cni/bin"
  for p in bridge host-local loopback portmap; do
    printf '#!/bin/sh\n# Test stand-in for the CNI plugin %s v%s; not the real plugin.\necho "CNI %s plugin v%s (test stand-in)"\nexit 1\n' "$p" "$v" "$p" "$v" >"$stage/opt/cni/bin/$p"
    chmod 755 "$stage/opt/cni/bin/$p"
  done
  build_deb kubernetes-cni "$v-$REV" "$stage" "" "Binaries required to provision kubernetes container networking" "$dir"
}

ensure_key() {
  install -d -m 700 "$GNUPGHOME"
  if ! gpg --batch --list-secret-keys 2>/dev/null | grep -q 'kop fake kubernetes repo'; then
    log "generating throwaway signing key"
    gpg --batch --quiet --passphrase '' --quick-gen-key 'kop fake kubernetes repo <fake-k8s-repo@kop.invalid>' ed25519 sign never 2>/dev/null
  fi
}

write_release() {
  local dir="$1" minor="$2" f
  (
    cd "$dir"
    dpkg-scanpackages --multiversion --arch "$ARCH" amd64 /dev/null 2>/dev/null >Packages
    gzip -9nc Packages >Packages.gz
    {
      printf 'Origin: kop-fake:kubernetes:core:stable:v%s\n' "$minor"
      printf 'Label: kop-fake:kubernetes:core:stable:v%s\n' "$minor"
      printf 'Architectures: %s\n' "$ARCH"
      printf 'Date: %s\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
      printf 'Description: Kubernetes v%s packages (test stand-ins)\n' "$minor"
      printf 'MD5Sum:\n'
      for f in Packages Packages.gz; do printf ' %s %16d %s\n' "$(md5sum <"$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"; done
      printf 'SHA256:\n'
      for f in Packages Packages.gz; do printf ' %s %16d %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"; done
    } >Release
    rm -f InRelease Release.gpg
    gpg --batch --yes --quiet --clearsign -o InRelease Release
    gpg --batch --yes --quiet --armor --detach-sign -o Release.gpg Release
    gpg --batch --yes --quiet --armor --export >Release.key
  )
}

main() {
  local v minor dir minors=()
  install -d "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  ensure_key
  rm -rf "$OUT/www"
  for v in "${VERSIONS[@]}"; do
    minor="${v%.*}"
    dir="$OUT/www/core:/stable:/v$minor/deb"
    if [[ ! -d "$dir" ]]; then
      install -d "$dir/amd64"
      build_minor_extras "$minor" "$dir/amd64" "$(artifacts_of "$v")"
      minors+=("$minor")
    fi
    build_kube_packages "$v" "$dir/amd64"
  done
  for minor in "${minors[@]}"; do
    write_release "$OUT/www/core:/stable:/v$minor/deb" "$minor"
  done
  log "built repositories for v${minors[*]} in $OUT/www (versions: ${VERSIONS[*]})"
  printf '%s\n' "$OUT/www"
}

main
