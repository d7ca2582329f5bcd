#!/usr/bin/env bash
# Builds everything a real cluster on the test hosts runs, from Go modules only, for one Kubernetes
# release: kubeadm, kubelet, kubectl, the control plane and kube-proxy (version ldflags set, so each
# reports the release), etcd at the version that release's kubeadm asks for, CoreDNS, pause, crictl,
# the CNI plugins (bridge, host-local, portmap, loopback, flannel), flanneld and metrics-server, and a
# single-layer OCI image for each one that runs in a pod.
#
#   bash scripts/build-k8s-artifacts.sh v1.34.4      # prints the artifact directory on its last line
#
# Output, cached under /var/cache/kubeadm-on-pulumi/k8s/<release>-<go version>-<recipe hash>
# (KOP_K8S_ARTIFACTS_CACHE moves the root): bin/, cni/, images/<name>.oci/ (OCI layouts) and
# images.tsv ("<upstream reference> <layout dir>" per image, e.g. "registry.k8s.io/pause:3.10.1 DIR":
# a mirror registry holds it as <mirror>/<upstream reference>).
# A directory is complete when it holds .complete; a half-built one is rebuilt.
set -euo pipefail

release=${1:-${KOP_K8S_VERSION:-}}
[[ $release =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "usage: $0 v1.MINOR.PATCH (got '${release}')" >&2; exit 2; }
minor=${BASH_REMATCH[1]}
patch=${BASH_REMATCH[2]}

HERE=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="$HERE/tools/k8s-artifacts"
CRI_TOOLS_VERSION=v1.37.0
FLANNEL_VERSION=v0.28.4
CNI_PLUGINS_VERSION=v1.10.0
# containernetworking/plugins v0.9.1 is the last release that holds the flannel CNI plugin
# (it moved to flannel-io/cni-plugin, which the Go module proxy does not serve).
FLANNEL_CNI_VERSION=v0.9.1
METRICS_SERVER_VERSION=v0.8.0
LOCAL_PATH_VERSION=v0.0.30
COREDNS_VERSION=v1.14.7

for cmd in go skopeo sha256sum tar; do
  command -v "$cmd" >/dev/null || { echo "$0: '$cmd' is missing (bash scripts/install-test-deps.sh installs it)" >&2; exit 1; }
done
[ -x /usr/sbin/xtables-nft-multi ] || { echo "$0: /usr/sbin/xtables-nft-multi is missing (Debian package iptables): kube-proxy's image carries it" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "$0: /bin/busybox is missing (Debian package busybox-static): the flannel images' cp" >&2; exit 1; }

go_version=$(go env GOVERSION)
recipe=$(cat "$0" "$TOOLS"/*/*.go "$TOOLS"/*/go.mod | sha256sum | cut -c1-12)
root=${KOP_K8S_ARTIFACTS_CACHE:-/var/cache/kubeadm-on-pulumi/k8s}
out="$root/${release}-${go_version}-${recipe}"
if [ -f "$out/.complete" ]; then
  echo "artifacts for ${release}: cached"
  echo "$out"
  exit 0
fi

started=$(date +%s)
work="$root/work-${release}"
# Half-built directories of this release (an interrupted build, an older recipe) go.
for stale in "$root/${release}-"*; do
  if [ -d "$stale" ] && [ ! -f "$stale/.complete" ]; then rm -rf "$stale"; fi
done
rm -rf "$out" "$work"
mkdir -p "$out/bin" "$out/cni" "$out/images" "$work"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "[$(( $(date +%s) - started ))s] $*" >&2; }

# Runs a command, showing its output only when it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; echo "$0: failed: $*" >&2; return 1; }
}

# build_module VERSION DEST PACKAGE...: a throwaway module that requires the packages' module at
# VERSION (go get without a version would take the newest) and builds them into DEST.
# PINS (module@version ...) raises dependencies whose required version the proxy does not serve.
build_module() {
  local version=$1 dest=$2; shift 2
  local dir="$work/mod-${1//\//_}-${version}" p got=()
  for p in "$@"; do got+=("$p@$version"); done
  for p in ${PINS:-}; do got+=("$p"); done
  mkdir -p "$dir"
  (cd "$dir" && rm -f go.mod go.sum && go mod init kop-build >/dev/null 2>&1 \
    && quiet go get "${got[@]}" && go build -trimpath -ldflags "-s -w" -o "$dest/" "$@")
}

# --- Kubernetes: k8s.io/kubernetes with every staging module pinned to its published release.
log "kubernetes ${release}: resolving staging modules"
kdir="$work/kubernetes"
mkdir -p "$kdir"
kmod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@${release}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[ -f "$kmod" ] || { echo "$0: the Go module proxy does not serve k8s.io/kubernetes@${release}" >&2; exit 1; }
# Not every staging module is published at every patch, and some are served without being listed:
# the newest v0.MINOR.x not above the release's patch, listed or fetched outright.
served_staging() {
  local m=$1 p listed
  cd "$work" || return 1
  listed=$(GOFLAGS='' go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' | grep -E "^v0\.${minor}\.[0-9]+$" \
    | awk -F. -v p="$patch" '$3 <= p' | sort -t. -k3,3n | tail -n1 || true)
  if [ -n "$listed" ]; then echo "$listed"; return; fi
  for ((p = patch; p >= 0; p--)); do
    if (GOFLAGS='' go mod download "$m@v0.${minor}.${p}" 2>/dev/null); then echo "v0.${minor}.${p}"; return; fi
  done
}
staging=$(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$kmod")
{
  echo "module kop-build/kubernetes"
  echo "go $(sed -n 's/^go //p' "$kmod")"
  echo "require k8s.io/kubernetes ${release}"
  echo "replace ("
  for m in $staging; do
    want="v0.${minor}.${patch}"
    have=$(served_staging "$m")
    [ -n "$have" ] || { echo "$0: no release of $m at v0.${minor}.x <= ${want} is served: ${release} cannot be built" >&2; exit 1; }
    [ "$have" = "$want" ] || log "  $m: ${want} is not served, using ${have}"
    echo "  $m => $m $have"
  done
  echo ")"
} > "$kdir/go.mod"
kcmds="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
pkgs=()
for c in $kcmds; do pkgs+=("k8s.io/kubernetes/cmd/$c@${release}"); done
vflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  vflags="$vflags -X $p.gitVersion=${release} -X $p.gitMajor=1 -X $p.gitMinor=${minor} -X $p.gitTreeState=clean"
  vflags="$vflags -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "kubernetes ${release}: downloading modules"
(cd "$kdir" && quiet go get "${pkgs[@]}")
for c in $kcmds; do
  log "building $c"
  (cd "$kdir" && go build -trimpath -ldflags "-s -w $vflags" -o "$out/bin/$c" "k8s.io/kubernetes/cmd/$c")
done
"$out/bin/kubeadm" version -o short | grep -qx "$release" || { echo "$0: kubeadm does not report ${release}" >&2; exit 1; }

# What this kubeadm deploys: the etcd, CoreDNS and pause tags.
images=$("$out/bin/kubeadm" config images list --kubernetes-version "$release" --image-repository kop.invalid)
tag_of() { echo "$images" | sed -n "s#^kop.invalid/$1:##p"; }
# With an image repository of its own, kubeadm names CoreDNS <repository>/coredns, not coredns/coredns.
etcd_tag=$(tag_of etcd); coredns_tag=$(tag_of coredns); pause_tag=$(tag_of pause)
if [ -z "$etcd_tag" ] || [ -z "$coredns_tag" ] || [ -z "$pause_tag" ]; then
  echo "$0: cannot read etcd/CoreDNS/pause tags from: $images" >&2; exit 1
fi
log "kubeadm ${release} wants etcd ${etcd_tag}, coredns ${coredns_tag}, pause ${pause_tag}"

log "building etcd v${etcd_tag%-*}"
edir="$work/etcd"
mkdir -p "$edir"
cp "$TOOLS/etcd/main.go" "$edir/"
(cd "$edir" && printf 'module kop-build/etcd\ngo 1.24.0\nrequire go.etcd.io/etcd/server/v3 v%s\n' "${etcd_tag%-*}" > go.mod \
  && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd" .)
# etcdctl, which upstream's etcd image carries (the program lists and removes stacked members
# through it): at the etcd version when served, else the newest served release of that minor.
etcd_version=v${etcd_tag%-*}
ctl_versions=$(cd "$edir" && go list -m -versions go.etcd.io/etcd/etcdctl/v3 | tr ' ' '\n' | tail -n +2)
if grep -qx "$etcd_version" <<<"$ctl_versions"; then ctl_version=$etcd_version
else ctl_version=$(grep "^${etcd_version%.*}\." <<<"$ctl_versions" | sort -V | tail -n 1); fi
[ -n "$ctl_version" ] || { echo "$0: no go.etcd.io/etcd/etcdctl/v3 release of ${etcd_version%.*} is served" >&2; exit 1; }
log "building etcdctl ${ctl_version}"
cdir="$work/etcdctl"; mkdir -p "$cdir"
(cd "$cdir" && printf 'module kop-build/etcdctl\ngo 1.24.0\n' > go.mod && go get "go.etcd.io/etcd/etcdctl/v3@${ctl_version}" >/dev/null \
  && go build -trimpath -ldflags "-s -w" -o "$out/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)

log "building pause and the test workload (webprobe)"
(cd "$TOOLS/pause" && go build -trimpath -ldflags "-s -w" -o "$out/bin/pause" .)
(cd "$TOOLS/webprobe" && go build -trimpath -ldflags "-s -w" -o "$out/bin/webprobe" .)

# CoreDNS at the tag kubeadm asks for is not always served; the newest v1.14 stands in under that tag.
log "building coredns ${COREDNS_VERSION}"
build_module "${COREDNS_VERSION}" "$out/bin" github.com/coredns/coredns
log "building crictl ${CRI_TOOLS_VERSION}"
build_module "${CRI_TOOLS_VERSION}" "$out/bin" sigs.k8s.io/cri-tools/cmd/crictl
log "building CNI plugins ${CNI_PLUGINS_VERSION}"
build_module "${CNI_PLUGINS_VERSION}" "$out/cni" \
  github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/meta/portmap github.com/containernetworking/plugins/plugins/main/loopback
log "building the flannel CNI plugin (containernetworking/plugins ${FLANNEL_CNI_VERSION})"
build_module "${FLANNEL_CNI_VERSION}" "$out/cni" github.com/containernetworking/plugins/plugins/meta/flannel
log "building flanneld ${FLANNEL_VERSION}"
# flanneld links every backend; the Tencent Cloud SDK module it requires is not served at that
# version: the oldest served one above it stands in (only the tencentvpc backend uses it).
tencent=github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common
tencent_version=$(cd "$work" && GOFLAGS='' go list -m -versions "$tencent" | tr ' ' '\n' | grep '^v1\.3\.' | awk -F. '$3 >= 79' | head -n1)
[ -n "$tencent_version" ] || { echo "$0: no $tencent at v1.3.79 or later is served: flanneld cannot be built" >&2; exit 1; }
# Its udp backend is cgo, as upstream builds it: the image carries the C library and the loader.
CGO_ENABLED=1 PINS="$tencent@$tencent_version" build_module "${FLANNEL_VERSION}" "$work/flannel-bin" github.com/flannel-io/flannel
mv "$work/flannel-bin/flannel" "$out/bin/flanneld"
log "building metrics-server ${METRICS_SERVER_VERSION}"
build_module "${METRICS_SERVER_VERSION}" "$out/bin" sigs.k8s.io/metrics-server/cmd/metrics-server
log "building local-path-provisioner ${LOCAL_PATH_VERSION}"
build_module "${LOCAL_PATH_VERSION}" "$out/bin" github.com/rancher/local-path-provisioner

# --- Images: one layer each, as an OCI layout that skopeo copies into a registry.
# make_image NAME:TAG ROOTFS_DIR ENTRYPOINT_JSON
make_image() {
  local ref=$1 rootfs=$2 entrypoint=$3
  local name=${ref%:*} tag=${ref##*:}
  local dir="$out/images/${name//\//_}-${tag}.oci" blobs layer cfg manifest ldigest ddigest cdigest mdigest
  blobs="$dir/blobs/sha256"
  mkdir -p "$blobs"
  layer="$work/layer.tar"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$layer" .
  ddigest=$(sha256sum "$layer" | cut -d' ' -f1)
  gzip -n -1 -c "$layer" > "$work/layer.tar.gz"
  ldigest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  mv "$work/layer.tar.gz" "$blobs/$ldigest"
  cfg=$(printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"],"Entrypoint":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$entrypoint" "$ddigest")
  cdigest=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  printf '%s' "$cfg" > "$blobs/$cdigest"
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$cdigest" "${#cfg}" "$ldigest" "$(stat -c %s "$blobs/$ldigest")")
  mdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  printf '%s' "$manifest" > "$blobs/$mdigest"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mdigest" "${#manifest}" "$tag" > "$dir/index.json"
  echo "$ref $dir" >> "$out/images.tsv"
}

# The machine's static busybox (the local-path provisioner's helper image), tagged with its own version.
busybox_version() { /bin/busybox 2>&1 | head -1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p'; }

# rootfs_with NAME FILE... : a directory holding /usr/local/bin/<each file>, /tmp and /etc/{passwd,group}
rootfs_with() {
  local r="$work/rootfs-$1"; shift
  rm -rf "$r"; mkdir -p "$r/usr/local/bin" "$r/tmp" "$r/etc" "$r/bin"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  for f in "$@"; do cp "$f" "$r/usr/local/bin/"; done
  echo "$r"
}

# iptables for kube-proxy and flanneld: xtables-nft-multi, its extensions, every library they (and
# the further binaries given) load, the loader.
add_iptables() {
  local r=$1 f lib; shift
  mkdir -p "$r/usr/sbin" "$r/usr/lib/x86_64-linux-gnu/xtables" "$r/lib64"
  cp /usr/sbin/xtables-nft-multi "$r/usr/sbin/"
  for f in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf xtables-nft-multi "$r/usr/sbin/$f"; done
  cp /usr/lib/x86_64-linux-gnu/xtables/*.so "$r/usr/lib/x86_64-linux-gnu/xtables/"
  for lib in $(ldd /usr/sbin/xtables-nft-multi /usr/lib/x86_64-linux-gnu/xtables/*.so "$@" 2>/dev/null | grep -o '/[^ ]*\.so[^ :]*' | sort -u); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
}

log "images"
: > "$out/images.tsv"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  make_image "registry.k8s.io/$c:${release}" "$(rootfs_with "$c" "$out/bin/$c")" "[\"/usr/local/bin/$c\"]"
done
r=$(rootfs_with kube-proxy "$out/bin/kube-proxy"); add_iptables "$r"
make_image "registry.k8s.io/kube-proxy:${release}" "$r" '["/usr/local/bin/kube-proxy"]'
make_image "registry.k8s.io/etcd:${etcd_tag}" "$(rootfs_with etcd "$out/bin/etcd" "$out/bin/etcdctl")" '["/usr/local/bin/etcd"]'
r=$(rootfs_with coredns); cp "$out/bin/coredns" "$r/coredns"
make_image "registry.k8s.io/coredns:${coredns_tag}" "$r" '["/coredns"]'
r=$(rootfs_with pause); cp "$out/bin/pause" "$r/pause"
make_image "registry.k8s.io/pause:${pause_tag}" "$r" '["/pause"]'
r=$(rootfs_with metrics-server); cp "$out/bin/metrics-server" "$r/metrics-server"
make_image "registry.k8s.io/metrics-server/metrics-server:${METRICS_SERVER_VERSION}" "$r" '["/metrics-server"]'
r=$(rootfs_with flannel); mkdir -p "$r/opt/bin"; cp "$out/bin/flanneld" "$r/opt/bin/"; add_iptables "$r" "$out/bin/flanneld"
cp /bin/busybox "$r/bin/"; for f in cp sh; do ln -sf busybox "$r/bin/$f"; done
make_image "ghcr.io/flannel-io/flannel:${FLANNEL_VERSION}" "$r" '["/opt/bin/flanneld"]'
r=$(rootfs_with flannel-cni-plugin); cp "$out/cni/flannel" "$r/flannel"
cp /bin/busybox "$r/bin/"; for f in cp sh; do ln -sf busybox "$r/bin/$f"; done
make_image "ghcr.io/flannel-io/flannel-cni-plugin:${FLANNEL_CNI_VERSION}" "$r" '["/bin/sh"]'
r=$(rootfs_with busybox); cp /bin/busybox "$r/bin/"; for f in sh cp ls mkdir rm cat sleep wget nslookup; do ln -sf busybox "$r/bin/$f"; done
make_image "docker.io/library/busybox:$(busybox_version)" "$r" '["/bin/sh"]'
r=$(rootfs_with webprobe); cp "$out/bin/webprobe" "$r/webprobe"
make_image "docker.io/kubeadm-on-pulumi/webprobe:v1" "$r" '["/webprobe"]'
make_image "docker.io/rancher/local-path-provisioner:${LOCAL_PATH_VERSION}" "$(rootfs_with local-path "$out/bin/local-path-provisioner")" '["/usr/local/bin/local-path-provisioner"]'

{
  echo "kubernetes=${release}"
  echo "etcd=${etcd_tag}"; echo "etcdctl=${ctl_version}"; echo "coredns=${coredns_tag}"; echo "coredns_built=${COREDNS_VERSION}"; echo "pause=${pause_tag}"
  echo "flannel=${FLANNEL_VERSION}"; echo "flannel_cni=${FLANNEL_CNI_VERSION}"; echo "metrics_server=${METRICS_SERVER_VERSION}"; echo "local_path=${LOCAL_PATH_VERSION}"
  echo "busybox=$(busybox_version)"
  echo "cri_tools=${CRI_TOOLS_VERSION}"; echo "cni_plugins=${CNI_PLUGINS_VERSION}"; echo "go=${go_version}"
  echo "build_seconds=$(( $(date +%s) - started ))"
} > "$out/versions.env"
rm -rf "$work"
touch "$out/.complete"
# Builds of this release by another recipe or Go version are not used again.
for stale in "$root/${release}-"*; do
  if [ -d "$stale" ] && [ "$stale" != "$out" ]; then rm -rf "$stale"; fi
done
log "artifacts for ${release} built"
echo "$out"
