#!/usr/bin/env bash
# Debian packages the test tiers use: the real tools that check rendered files (render tier),
# the systemd-nspawn test-host machinery (hosts tier) and, for the cluster tier, the image
# registry, skopeo, and what the built images carry (xtables from iptables, busybox). Idempotent.
set -euo pipefail
packages=(
  shellcheck containerd haproxy keepalived etcd-server etcd-client openssl prometheus prometheus-alertmanager
  systemd-container debootstrap openssh-client iptables iproute2 dpkg-dev apt-utils gnupg python3 curl util-linux
  docker-registry skopeo busybox-static
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The add-on manifests are validated against the Kubernetes OpenAPI schemas this package ships.
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0 ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages kubernetes-validate==1.37.0
fi
# haproxy/keepalived/etcd packages start services where systemd runs; the tests only need the binaries.
echo "test dependencies present: ${packages[*]} kubernetes-validate"
